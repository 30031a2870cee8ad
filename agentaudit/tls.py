"""The CA bundle every HTTPS client of agentaudit trusts, from the standard variables.

requests (under azure-core's transport) reads REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE on its own,
but not SSL_CERT_FILE, which OpenSSL-based tools and private clouds use; azure-core clients are
therefore given the bundle explicitly (`connection_verify`), so all three variables are honoured.
"""

from __future__ import annotations

import os
from typing import Any

CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")


def ca_bundle() -> str | None:
    """The first CA bundle file named by the standard variables, or None (the default trust)."""
    return next((os.environ[v] for v in CA_VARIABLES if os.environ.get(v)), None)


def azure_transport_options() -> dict[str, Any]:
    """Keyword arguments for an azure-core client or azure-identity credential."""
    bundle = ca_bundle()
    return {"connection_verify": bundle} if bundle else {}
