"""The WSGI entry point: gunicorn wsgi:app, flask --app wsgi …"""

import gc

from app import create_app

app = create_app()

# What start-up made (the app, SQLAlchemy's metadata, numpy and scipy) lives as long as the worker:
# freeze it out of the collector's reach, so the full collections that a large response's many new
# dicts set off (a city's summary builds a few hundred thousand) do not walk it again each time.
gc.collect()
gc.freeze()
