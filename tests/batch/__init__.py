"""Tests of bankmarketing_client.batch (a package, so that its conftest does not clash with the root one)."""
