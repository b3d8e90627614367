"""The names of the mock's secrets. Each comes from its environment variable
or, in the offline demo, from a file in var/ (`core.secrets`). Never logged."""

SIGNING_KEY_ENV = "TROLY_BACKEND_SIGNING_KEY"
WEBHOOK_SECRET_ENV = "TROLY_BACKEND_WEBHOOK_SECRET"
ADMIN_TOKEN_ENV = "TROLY_BACKEND_ADMIN_TOKEN"
