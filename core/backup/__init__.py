"""Backups of the whole site in one archive: the database and every media file.

The archive is a .tar.gz holding, in this order:

- `database.sqlite3` (SQLite's online backup of the live file, safe while the site
  runs) or `database.pgdump` (`pg_dump --format=custom`);
- `media/<name>` for each file of the default storage, read through the storage
  API, so it works the same on the local disk and on an object store;
- `manifest.json`, last because it holds every file's checksum: when the backup was
  made, the database vendor, the applied migrations, each file's size and sha256.

The database goes first: media uploaded while the backup runs are then at worst
unused extra files, never rows pointing at files the archive lacks.

Restoring reads the archive twice: once to check every checksum against the
manifest (nothing is touched before the whole archive is known good), then to put
the database and the media back. The commands are `manage.py backup` and
`manage.py restore`.

- archive.py: the archive's format, its manifest and its checksums;
- database.py: the database in and out, whatever its vendor (sqlite.py,
  postgres.py), its migrations and what it holds;
- media.py: the media files, through the storage API;
- create.py: a backup; restore.py: the plan of a restore, and the restore.
"""
