"""A private CA and two server certificates for the `tls/*` interop scenarios.

Usage: python tls_certs.py DIR

Writes, with trustme (run from the TLS venv, see tls-requirements.txt):
- DIR/ca.pem: the CA's certificate (what TrustStore names);
- DIR/loopback.pem, DIR/loopback.key: a certificate for 127.0.0.1 and
  localhost (the server sends it alone: the client must trust the CA);
- DIR/other.pem, DIR/other.key: a certificate for api.corp.example only
  (served on 127.0.0.1: a host name mismatch, unless HostNameInCertificate
  names it).
"""

import pathlib
import sys

import trustme

out = pathlib.Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
ca = trustme.CA(organization_name="connectkit interop private CA")
ca.cert_pem.write_to_path(out / "ca.pem")
for name, hosts in (("loopback", ["127.0.0.1", "localhost"]), ("other", ["api.corp.example"])):
    cert = ca.issue_cert(*hosts)
    cert.private_key_pem.write_to_path(out / f"{name}.key")
    with open(out / f"{name}.pem", "wb") as f:
        for blob in cert.cert_chain_pems:
            f.write(blob.bytes())
print("ok")
