"""Render the application icon (assets/icons/app.svg) to the PNG sizes of the freedesktop hicolor
theme, as ``assets/icons/hicolor/<N>x<N>/apps/studio-creative.png``.

``studio desktop install`` copies these files (the CLI imports no Qt, so it cannot render the SVG
itself); the SVG goes to ``hicolor/scalable``. The PNGs are committed: run this again only when the
SVG changes (a test checks that every size is there and has its size)::

    QT_QPA_PLATFORM=offscreen python packaging/make_icons.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from studio.desktop import ICON_NAME, ICON_SIZES  # noqa: E402


def main() -> int:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841 - QImage painting needs one
    renderer = QSvgRenderer(str(ROOT / "assets" / "icons" / "app.svg"))
    if not renderer.isValid():
        print("assets/icons/app.svg cannot be read", file=sys.stderr)
        return 1
    for size in ICON_SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        target = ROOT / "assets" / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{ICON_NAME}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        image.save(str(target), "PNG")
        print(target.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
