"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""
from supervise import create_app
from supervise.runtime import tune_garbage_collector

app = create_app()
tune_garbage_collector()
