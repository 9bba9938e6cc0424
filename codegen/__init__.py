"""Code generation: Azure ML swagger -> OpenAPI 3 -> overlay -> typed client and validated record models.

See codegen/README.md. A development tool: it is not part of the installed ``bankmarketing_client`` package.
"""
