"""Plain modules the tests and their conftest files import: fakes, servers, sync runners, the
ground truth, meltano and PostgreSQL access. Nothing here imports a conftest or a test module."""
