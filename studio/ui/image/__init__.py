"""The Image tab: settings column, results side, gallery, PNG-info restore."""
