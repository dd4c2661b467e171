"""RFC 35 constraint query syntax, as ``flux.constraint``: see :mod:`fluxsdk.constraint.parser`."""
