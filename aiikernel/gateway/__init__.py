"""One model gateway per user: litellm lives in one process that every kernel shares.

Importing litellm costs each kernel ~200 MB and seconds of CPU, so the kernel talks to
models through a light client (:mod:`.client`, HTTP over a Unix socket, standard library only) and the gateway
(:mod:`.server`, started on demand by :mod:`.lifecycle`) owns litellm, the credentials,
the cost computation and the redaction of the wire log. :mod:`.protocol` is everything
that crosses the socket; :mod:`.paths` keeps the socket private to its user.
Nothing is imported here: the kernel loads only what it uses.
"""
