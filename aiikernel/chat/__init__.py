"""The chat channel: JupyterLab panels talk to the kernel's AI session over a comm.

A panel opens a comm on target :data:`~aiikernel.chat.protocol.TARGET_NAME`; the kernel's
:class:`~aiikernel.chat.hub.ChatHub` keeps one bounded conversation per kernel (turns from
`%%ai` cells and from panels alike) and broadcasts every turn event, with the outputs of
AI-run code as Jupyter MIME bundles, to every open comm.  Modules: ``protocol`` (pydantic
messages), ``history`` (the kept conversation), ``capture`` (IOPub tap), ``hub``,
``channel`` (one comm), ``target`` (registration at kernel start).
"""
