#!/usr/bin/env python3
"""A window to drag files from, for test-files.py: a GTK 4 drag source
that offers the files named on its command line (a GdkFileList, as a file
manager does) to whatever they are dropped on.

Usage: drag-source.py FILE...   (needs PyGObject with GTK 4)
"""

import sys

import gi

gi.require_version("Gdk", "4.0")
gi.require_version("Gtk", "4.0")
from gi.repository import Gdk, Gio, GObject, Gtk  # noqa: E402


def main():
    paths = sys.argv[1:]
    app = Gtk.Application(flags=Gio.ApplicationFlags.NON_UNIQUE)

    def prepare(source, x, y):
        files = Gdk.FileList.new_from_array([Gio.File.new_for_path(p) for p in paths])
        return Gdk.ContentProvider.new_for_value(GObject.Value(Gdk.FileList, files))

    def activate(app):
        win = Gtk.ApplicationWindow(application=app, title="drag-source")
        label = Gtk.Label(label="drag me")
        source = Gtk.DragSource(actions=Gdk.DragAction.COPY)
        source.connect("prepare", prepare)
        source.connect("drag-end", lambda *a: print("drag-source: dropped", flush=True))
        label.add_controller(source)
        win.set_child(label)
        win.set_default_size(200, 100)
        win.present()

    app.connect("activate", activate)
    app.run([sys.argv[0]])


if __name__ == "__main__":
    main()
