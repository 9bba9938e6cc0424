"""Azure ML SDK v2 (azure-ai-ml): managed online endpoints and batch endpoints of a workspace.

Needs the ``azureml-v2`` extra (azure-ai-ml, azure-identity) only when a function talks to Azure; importing this
package imports neither. Every management call runs under the deadline of :mod:`bankmarketing_client.azureml`.
"""
