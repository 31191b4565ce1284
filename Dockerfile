FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY synchronizer ./synchronizer
COPY profiles ./profiles
COPY preferences ./preferences
COPY syncengine ./syncengine
COPY sandbox ./sandbox
COPY devservers ./devservers
RUN pip install .
COPY . .

# collectstatic needs settings to load; these build-time values are never used at run time.
RUN SECRET_KEY=build FIELD_ENCRYPTION_KEYS=MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA= \
    SUPEROFFICE_CLIENT_ID=build SUPEROFFICE_CLIENT_SECRET=build REDIS_URL=redis://build:6379/0 \
    python manage.py collectstatic --noinput

RUN useradd --system --uid 1000 synchronizer
USER synchronizer
EXPOSE 8000
CMD ["gunicorn", "synchronizer.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
