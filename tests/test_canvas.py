"""The Canvas tab driven with qtbot on a real MainWindow: mouse strokes and fills give the expected mask
pixels, undo/redo restores them exactly, zoom and pan never move mask coordinates, documents round-trip,
autosave is offered back, and a real inpaint/outpaint job on a tiny model gives candidates to apply."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, QSettings, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication

from studio.models.catalog import Catalog
from studio.ui.canvas.document import CanvasDocument, autosave_path
from studio.ui.canvas.mask import grey_array
from studio.ui.settings import Settings


def make_window(qtbot, tmp_path, library):
    from studio.ui.main_window import MainWindow

    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    win = MainWindow(settings, library, Catalog(tmp_path / "user_models.json"))
    qtbot.addWidget(win)
    win.resize(1000, 700)
    win.show()
    win.tabs.setCurrentWidget(win.tab("canvas"))
    return win


def picture(w=256, h=192) -> QImage:
    image = QImage(w, h, QImage.Format.Format_RGB32)
    image.fill(QColor(30, 120, 200))
    return image


@pytest.fixture
def canvas(qtbot, tmp_path, library):
    win = make_window(qtbot, tmp_path, library)
    tab = win.tab("canvas")
    tab.set_picture(picture())
    tab.view.set_zoom(1.0)
    tab.set_tool("brush")
    tab.size_box.setValue(10)
    tab.hardness_box.setValue(1.0)
    return tab


def mask(tab) -> np.ndarray:
    return grey_array(tab.doc.mask.to_grey())


def vp(tab, x: float, y: float) -> QPoint:
    return tab.view.mapFromScene(QPointF(x, y))


def tiny_settings(tab, model, steps: int, batch: int):
    """The panel set for a fast run of the tiny model, with a mask painted; returns the panel."""
    p = tab.form
    p.model_picker.set_model_spec(str(model))
    p.size.setValue(64)
    p.steps.setValue(steps)
    p.batch.setValue(batch)
    tab.doc.touch(tab.doc.mask.stroke(QPointF(100, 80), QPointF(140, 100), 10))
    return p


def drag(qtbot, tab, points, button=Qt.MouseButton.LeftButton) -> None:
    port = tab.view.viewport()
    qtbot.mousePress(port, button, pos=vp(tab, *points[0]))
    for p in points[1:]:
        qtbot.mouseMove(port, pos=vp(tab, *p))
    qtbot.mouseRelease(port, button, pos=vp(tab, *points[-1]))


def test_brush_stroke_paints_the_expected_pixels_and_undo_redo_restore_them_exactly(qtbot, canvas):
    empty = mask(canvas)
    drag(qtbot, canvas, [(40, 60), (80, 60), (120, 60)])
    after = mask(canvas)
    assert after[60, 40:121].min() == 255 and after[58:63, 60].min() == 255  # along the stroke, 10 px wide
    assert after[70, 80] == 0 and after[60, 130] == 0 and after[20, 20] == 0  # nothing beyond its radius
    ys, xs = np.nonzero(after)
    assert 33 <= xs.min() <= 36 and 124 <= xs.max() <= 127 and 53 <= ys.min() <= 56 and 64 <= ys.max() <= 67
    canvas.tab_undo = canvas.undo_stack
    canvas.undo_stack.undo()
    assert np.array_equal(mask(canvas), empty)
    canvas.undo_stack.redo()
    assert np.array_equal(mask(canvas), after)
    # the eraser removes a part, and is one more undo step
    canvas.set_tool("eraser")
    drag(qtbot, canvas, [(80, 40), (80, 80)])
    assert mask(canvas)[60, 80] == 0 and mask(canvas)[60, 50] == 255
    qtbot.keyClick(canvas.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(mask(canvas), after)
    qtbot.keyClick(canvas.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert mask(canvas)[60, 80] == 0


def test_rectangle_lasso_invert_clear_each_undoable(qtbot, canvas):
    canvas.set_tool("rect")
    drag(qtbot, canvas, [(10, 20), (50, 40), (60, 50)])
    m = mask(canvas)
    assert m[25:45, 15:55].min() == 255 and m[60, 30] == 0 and m[30, 70] == 0
    canvas.set_tool("lasso")
    drag(qtbot, canvas, [(150, 100), (200, 100), (200, 150), (150, 150)])
    m2 = mask(canvas)
    assert m2[125, 175] == 255 and m2[90, 175] == 0
    canvas.invert_mask()
    assert mask(canvas)[125, 175] == 0 and mask(canvas)[5, 5] == 255
    canvas.clear_mask()
    assert not mask(canvas).any()
    for expected in (255, 0):  # undo clear → inverted mask; undo invert → the lasso'd mask
        canvas.undo_stack.undo()
        assert mask(canvas)[5, 5] == expected
    assert np.array_equal(mask(canvas), m2)
    canvas.undo_stack.undo()
    assert np.array_equal(mask(canvas), m)


def test_soft_brush_fades_and_bracket_keys_resize(qtbot, canvas):
    canvas.hardness_box.setValue(0.0)
    canvas.size_box.setValue(40)
    drag(qtbot, canvas, [(100, 100), (101, 100)])
    m = mask(canvas)
    assert m[100, 100] > 200 and 0 < m[100, 114] < m[100, 106] and m[100, 125] == 0
    qtbot.keyClick(canvas.view, Qt.Key.Key_BracketRight)
    assert canvas.view.brush.size > 40
    qtbot.keyClick(canvas.view, Qt.Key.Key_BracketLeft)
    qtbot.keyClick(canvas.view, Qt.Key.Key_BracketLeft)
    assert canvas.view.brush.size < 40


def test_zoom_and_pan_do_not_move_mask_coordinates(qtbot, canvas):
    view = canvas.view
    drag(qtbot, canvas, [(60, 60), (100, 60)])
    reference = mask(canvas)
    canvas.undo_stack.undo()
    # zoom in around the cursor with the wheel, then pan with the middle button and with Space + drag
    from PySide6.QtCore import QPointF as P
    from PySide6.QtGui import QWheelEvent

    center = P(view.viewport().rect().center())
    for _ in range(4):
        ev = QWheelEvent(center, view.viewport().mapToGlobal(center), QPoint(), QPoint(0, 120),
                         Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(view.viewport(), ev)
    assert view.zoom == pytest.approx(1.25**4)
    port = view.viewport()
    before = view.mapToScene(QPoint(10, 10))
    qtbot.mousePress(port, Qt.MouseButton.MiddleButton, pos=QPoint(200, 200))
    qtbot.mouseMove(port, pos=QPoint(150, 170))
    qtbot.mouseRelease(port, Qt.MouseButton.MiddleButton, pos=QPoint(150, 170))
    moved = view.mapToScene(QPoint(10, 10))
    assert moved != before
    qtbot.keyPress(view, Qt.Key.Key_Space)
    drag(qtbot, canvas, [(70, 70), (60, 65)])  # a Space-drag pans, it does not paint
    qtbot.keyRelease(view, Qt.Key.Key_Space)
    assert not mask(canvas).any()
    # the same stroke in picture coordinates paints the same pixels at this zoom and scroll
    drag(qtbot, canvas, [(60, 60), (100, 60)])
    diff = mask(canvas).astype(int) - reference.astype(int)
    assert np.abs(diff).max() <= 255 and (np.abs(diff) > 128).sum() < 0.05 * (reference > 0).sum()
    assert mask(canvas)[60, 60:101].min() == 255
    view.fit()
    view.actual_size()
    assert view.zoom == 1.0


def test_document_round_trip(qtbot, canvas, tmp_path):
    drag(qtbot, canvas, [(40, 40), (90, 90)])
    canvas.form.prompt.setPlainText("a red door")
    canvas.form.mask_blur.setValue(12)
    path = canvas.files.save_document(tmp_path / "edit")
    assert path.name == "edit.studio-canvas"
    doc = CanvasDocument.load(path)
    assert doc.image == canvas.doc.image
    assert np.array_equal(grey_array(doc.mask.to_grey()), mask(canvas))
    assert doc.params["prompt"] == "a red door" and doc.params["mask_blur"] == 12
    # reopening it in the tab restores the settings too
    canvas.form.prompt.setPlainText("")
    assert canvas.files.open_path(path)
    assert canvas.form.prompt.toPlainText() == "a red door" and canvas.form.mask_blur.value() == 12
    assert np.array_equal(mask(canvas), grey_array(doc.mask.to_grey()))
    # a broken file is a one-line warning, the open document stays
    bad = tmp_path / "bad.studio-canvas"
    bad.write_bytes(b"PK\x03\x04 nope")
    assert not canvas.files.open_path(bad)
    assert "not a Canvas document" in canvas.status_text() and canvas.doc.path == path


def test_autosave_is_offered_back_after_a_crash(qtbot, canvas, tmp_path, library):
    assert not canvas.files.autosave()  # nothing changed since it opened... a picture opened is not an edit
    drag(qtbot, canvas, [(30, 30), (70, 30)])
    assert canvas.files.autosave() and autosave_path().exists()
    painted = mask(canvas)
    # "crash": a new window starts while the autosave is still there
    win2 = make_window(qtbot, tmp_path / "second", library)
    tab2 = win2.tab("canvas")
    assert tab2.files.recovery.isVisible() and "Recover" in tab2.files.recover_button.text()
    qtbot.mouseClick(tab2.files.recover_button, Qt.MouseButton.LeftButton)
    assert np.array_equal(mask(tab2), painted) and tab2.doc.image == canvas.doc.image
    assert not tab2.files.recovery.isVisible()
    # a clean exit with everything saved leaves no autosave behind
    tab2.files.save_document(tmp_path / "kept")
    tab2.files.on_quit()
    assert not autosave_path().exists()


def test_bad_inputs_get_a_message(qtbot, canvas, tmp_path):
    junk = tmp_path / "junk.png"
    junk.write_text("not a picture")
    assert not canvas.files.open_image(junk) and "not a picture" in canvas.status_text()
    assert canvas.inpaint() is None and "Paint the area" in canvas.status_text()  # no mask yet
    assert canvas.outpaint() is None and "pixels" in canvas.status_text()


def test_send_to_image_tab_sets_the_img2img_start(qtbot, canvas):
    win = canvas.window()
    assert canvas.files.send_to_image()
    assert win.tabs.currentWidget() is win.tab("image")
    assert win.tab("image").form.init_image.path().endswith(".png")  # the Image tab now starts from the canvas picture


@pytest.mark.usefixtures("one_torch_thread")
def test_inpaint_job_candidates_apply_undo_and_outpaint(qtbot, canvas, tiny_sd):
    p = tiny_settings(canvas, tiny_sd, steps=2, batch=2)
    p.seed.setValue(3)
    p.mask_blur.setValue(4)
    original = QImage(canvas.doc.image)
    jobs = canvas.jobs
    with qtbot.waitSignal(jobs.job_finished, timeout=120_000):
        assert canvas.inpaint()
    assert p.candidates.count() == 2 and p.apply_button.isEnabled()
    p.candidates.setCurrentRow(1)  # clicking a candidate previews it on the canvas
    shown = canvas.view.candidate
    assert shown is not None and shown.size() == original.size() and shown != original
    assert canvas.doc.image == original  # previewing does not change the document
    assert canvas.apply_candidate()
    assert canvas.doc.image == shown and p.candidates.count() == 0 and canvas.view.candidate is None
    canvas.undo_stack.undo()
    assert canvas.doc.image == original
    canvas.undo_stack.redo()
    assert canvas.doc.image == shown
    # outpaint: 16 pixels on the right; Discard keeps the picture, Apply grows it (one undo step)
    p.extend["right"].setValue(16)
    p.batch.setValue(1)
    with qtbot.waitSignal(jobs.job_finished, timeout=120_000):
        assert canvas.outpaint()
    canvas.discard_candidates()
    assert canvas.doc.size == (256, 192)
    with qtbot.waitSignal(jobs.job_finished, timeout=120_000):
        assert canvas.outpaint()
    assert canvas.apply_candidate() and canvas.doc.size == (272, 192)
    assert canvas.doc.mask.size == (272, 192)
    canvas.undo_stack.undo()
    assert canvas.doc.size == (256, 192) and canvas.doc.image == shown
    # the results are in the library as inpaint items, with the mask
    items = canvas.library.items("inpaint")
    assert len(items) == 4 and all("mask_png" in i.params for i in items)


@pytest.mark.usefixtures("one_torch_thread")
def test_cancel_keeps_the_picture_and_frees_the_buttons(qtbot, canvas, tiny_sd):
    p = tiny_settings(canvas, tiny_sd, steps=200, batch=1)
    original = QImage(canvas.doc.image)
    with qtbot.waitSignal(canvas.jobs.job_progress, timeout=120_000):
        assert canvas.inpaint()
    assert not p.generate_button.isEnabled() and p.cancel_button.isEnabled()
    with qtbot.waitSignal(canvas.jobs.job_cancelled, timeout=60_000):
        qtbot.mouseClick(p.cancel_button, Qt.MouseButton.LeftButton)
    assert canvas.doc.image == original and p.candidates.count() == 0 and canvas.view.candidate is None
    assert p.generate_button.isEnabled() and not p.cancel_button.isEnabled()
    assert "Cancelled" in canvas.status_text()


def test_open_by_drop_paste_and_history_item_with_its_mask(qtbot, canvas, tmp_path, library):
    import warnings

    from PySide6.QtCore import QMimeData, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication

    path = tmp_path / "drop.png"
    picture(64, 48).save(str(path))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(QPoint(5, 5), *args)
    QApplication.sendEvent(canvas, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(canvas, QDropEvent(QPointF(5, 5), *args))
    assert canvas.doc.size == (64, 48) and not canvas.undo_stack.canUndo()
    QGuiApplication.clipboard().setImage(picture(40, 30))
    assert canvas.files.paste() and canvas.doc.size == (40, 30)
    # a saved inpaint result reopens with the mask it was made with
    import base64

    from PIL import Image as PILImage

    from studio.engines.inpaint import mask_png_b64
    from studio.events import Output

    m = np.zeros((30, 40), np.uint8)
    m[5:15, 10:30] = 255
    saved = library.save(Output("image", PILImage.new("RGB", (40, 30), "blue"),
                                {"kind": "inpaint", "mask_png": mask_png_b64(PILImage.fromarray(m))}))
    assert base64.b64decode(saved.params["mask_png"])
    assert canvas.open_item(saved)
    assert np.array_equal(mask(canvas) > 0, m > 0)


def test_a_failing_job_is_a_message_and_the_canvas_keeps_working(qtbot, canvas, tmp_path):
    canvas.form.model_picker.set_model_spec(str(tmp_path / "no-such-model"))
    drag(qtbot, canvas, [(100, 80), (140, 100)])
    with qtbot.waitSignal(canvas.jobs.job_failed, timeout=60_000):
        assert canvas.inpaint()
    assert canvas.status_text().startswith("⚠") and canvas.form.generate_button.isEnabled()
    drag(qtbot, canvas, [(10, 10), (20, 20)])  # still painting
    assert mask(canvas)[15, 15] == 255


def test_outpaint_to_an_aspect_fills_the_extend_boxes(qtbot, canvas):
    p = canvas.form
    p.aspect.activated.emit(p.aspect.findText("1:1"))  # what choosing "1:1" in the list does
    assert {side: box.value() for side, box in p.extend.items()} == {"left": 0, "right": 0, "top": 32, "bottom": 32}
    assert p.aspect.currentIndex() == 0


def test_export_follows_the_output_rules(canvas, tmp_path):
    tab = canvas
    target = tmp_path / "real.png"
    link = tmp_path / "link.png"
    link.symlink_to(target)
    assert tab.files.export_png(link)
    assert link.is_symlink() and QImage(str(target)).size() == tab.doc.image.size()  # written through the link
    folder = tmp_path / "folder.png"
    folder.mkdir()
    assert not tab.files.export_png(folder) and folder.is_dir() and not any(folder.iterdir())
    assert not tab.files.export_png(tmp_path / "picture.bmp") and not (tmp_path / "picture.bmp").exists()


def test_the_canvas_follows_the_models_recommended_settings_like_the_image_tab(qtbot, canvas, tmp_path):
    """SD-Turbo: 1 step and CFG 0 in both forms; a model without recommendations gets the generic values
    only in fields the person did not change."""
    image = canvas.window().tab("image").form
    p = canvas.form
    for model, steps, cfg in (("sd-turbo", 1, 0.0), ("sd-1.5", 25, 7.0), ("sdxl-turbo", 2, 0.0)):
        p.model_picker.set_model_spec(model)
        image.model_picker.set_model_spec(model)
        assert (p.steps.value(), p.guidance.value()) == (steps, cfg) == (image.steps.value(), image.guidance.value())
    p.model_picker.set_model_spec("sd-turbo")
    p.steps.setValue(4)  # typed by the person
    p.model_picker.set_model_spec(str(tmp_path / "my-model.safetensors"))  # no recommendations
    assert (p.steps.value(), p.guidance.value(), p.size.value()) == (4, 7.0, 512)
    assert p.seed.value() is None  # random, no -1 sentinel
    doc_params = p.params()
    assert doc_params["seed"] is None
    p.set_params({**doc_params, "seed": -1})  # a document saved with the old sentinel
    assert p.seed.is_random()
    p.set_params({**doc_params, "seed": 42})
    assert p.seed.value() == 42
