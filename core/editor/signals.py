from django.dispatch import Signal

# Sent after an image uploaded from the editor is stored, with `name` (its storage
# name), so apps that derive files from images (responsive renditions) can start
# without the editor knowing them.
image_stored = Signal()
