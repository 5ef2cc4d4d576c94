"""The chat channel: the JupyterLab panel talks to the kernel's AI session over a comm.

The panel opens a comm on target :data:`~aiikernel.chat.protocol.TARGET_NAME` and sends
prompts and commands; the kernel answers with the same turn events a `%%ai` cell renders.
Code run by a chat turn publishes its outputs on iopub with the comm message as parent, so
the panel can show them next to the reply.
"""
