"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""
from supervise import create_app

app = create_app()
