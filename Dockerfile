# The ticketclock image: one image, two roles (`ticketclock api`, `ticketclock worker`).
# Used by docker-compose.yml; configured entirely by TICKETCLOCK_* environment variables.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The package and its pinned dependencies (pyproject.toml), from PyPI.
COPY pyproject.toml README.md ./
COPY policies ./policies
COPY plumbing ./plumbing
COPY workflows ./workflows
COPY activities ./activities
COPY api ./api
COPY ticketclock ./ticketclock
# Bytecode is compiled at build time: the runtime user cannot write site-packages, and the
# workflow sandbox re-imports `workflows` for every new ticket (from source, without a .pyc).
RUN pip install . && find /app -name __pycache__ -prune -exec rm -rf {} + \
    && python -m compileall -q "$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"

RUN useradd --system --uid 10001 --home-dir /app ticketclock
USER ticketclock

# Containers listen on every interface; `make run` keeps 127.0.0.1.
ENV TICKETCLOCK_API_HOST=0.0.0.0 \
    TICKETCLOCK_API_PORT=8000
EXPOSE 8000 9464

# `ticketclock api` by default; compose runs `ticketclock worker` from the same image.
CMD ["ticketclock", "api"]
