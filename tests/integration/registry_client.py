#!/usr/bin/python3
"""A Sovereign tenant client in Python: lists a model and fetches its released version over mTLS.

Lists the versions of --name that the caller may see, fetches the highest released one, and
checks the bytes: their SHA-256 must equal the digest in the Fetch header, the digest in the
signed manifest's subject and, when given, --expect-sha256. With --registry-key (the registry's
PEM public key) it also verifies the manifest's DSSE signature, when python3-cryptography is
installed. Prints what it did on stdout; exits 0 when every check passed, 1 otherwise (a failed
call prints "registry_client: error: CODE: details" on stderr). Uses Debian's python3-grpcio
and the sov.v1 stubs generated at build time (--stubs DIR, default: this script's directory).
"""
import argparse
import hashlib
import json
import os
import sys


def fail(message):
    print(f"registry_client: error: {message}", file=sys.stderr)
    return 1


def pae(payload_type, payload):
    """DSSE v1 pre-authentication encoding."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--addr", required=True, help="HOST:PORT of sovd")
    parser.add_argument("--ca", required=True, help="CA certificate that signed sovd's")
    parser.add_argument("--cert", required=True, help="client certificate (PEM)")
    parser.add_argument("--key", required=True, help="client private key (PEM)")
    parser.add_argument("--name", required=True, help="artifact name, e.g. acme-ml/fraud/model")
    parser.add_argument("--expect-sha256", help="the hex SHA-256 the bytes must have")
    parser.add_argument("--registry-key", help="the registry's public key (PEM) to verify with")
    parser.add_argument("--stubs", default=os.path.dirname(os.path.abspath(__file__)),
                        help="directory holding the generated sov/v1/*_pb2 modules")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()

    sys.path.insert(0, args.stubs)
    import grpc
    from sov.v1 import artifact_pb2
    from sov.v1 import registry_pb2
    from sov.v1 import registry_pb2_grpc

    def read(path):
        with open(path, "rb") as f:
            return f.read()

    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(args.ca),
        private_key=read(args.key),
        certificate_chain=read(args.cert),
    )
    options = [("grpc.max_receive_message_length", 8 << 20)]
    with grpc.secure_channel(args.addr, credentials, options=options) as channel:
        stub = registry_pb2_grpc.RegistryServiceStub(channel)
        try:
            listed = stub.ListArtifacts(registry_pb2.ListArtifactsRequest(name=args.name),
                                        timeout=args.timeout)
        except grpc.RpcError as error:
            return fail(f"ListArtifacts: {error.code().name}: {error.details()}")
        for artifact in listed.artifacts:
            stage = artifact_pb2.Stage.Name(artifact.stage)
            print(f"listed {artifact.name}@{artifact.version} {stage} {artifact.digest}")
        released = [a for a in listed.artifacts if a.stage == artifact_pb2.STAGE_RELEASED]
        if not released:
            return fail(f"no released version of {args.name} is visible")

        request = registry_pb2.FetchRequest(artifact=artifact_pb2.ArtifactRef(name=args.name))
        header = None
        sha = hashlib.sha256()
        size = 0
        chunks = 0
        try:
            for message in stub.Fetch(request, timeout=args.timeout):
                if message.HasField("header"):
                    header = message.header
                else:
                    sha.update(message.chunk)
                    size += len(message.chunk)
                    chunks += 1
        except grpc.RpcError as error:
            return fail(f"Fetch: {error.code().name}: {error.details()}")
    if header is None:
        return fail("Fetch sent no header")
    record = header.artifact
    got = sha.hexdigest()
    print(f"fetched {record.name}@{record.version}: {size} bytes in {chunks} chunks, "
          f"sha256:{got}")
    ok = True
    if record.version != released[0].version:
        ok = not fail(f"fetched version {record.version}, expected the highest released "
                      f"{released[0].version}")
    if size != record.size_bytes:
        ok = not fail(f"size {size} differs from the header's {record.size_bytes}")
    if "sha256:" + got != record.digest:
        ok = not fail(f"sha256:{got} differs from the header's digest {record.digest}")
    else:
        print("digest matches the header")
    if args.expect_sha256:
        if got != args.expect_sha256:
            ok = not fail(f"sha256:{got} differs from the expected sha256:{args.expect_sha256}")
        else:
            print("digest matches the pushed bytes")

    manifest = header.manifest
    try:
        statement = json.loads(manifest.payload)
        subject = statement["subject"][0]
        if subject["digest"]["sha256"] != got:
            ok = not fail(f"the manifest's subject digest {subject['digest']['sha256']} "
                          f"differs from sha256:{got}")
        else:
            print(f"manifest subject {subject.get('name', '')} has the same digest")
    except (ValueError, KeyError, IndexError) as error:
        ok = not fail(f"the manifest payload is not an in-toto statement: {error!r}")

    if args.registry_key:
        try:
            from cryptography.exceptions import InvalidSignature
            from cryptography.hazmat.primitives.serialization import load_pem_public_key
        except ImportError:
            print("python3-cryptography is not installed: manifest signature not checked")
        else:
            key = load_pem_public_key(read(args.registry_key))
            message = pae(manifest.payload_type, manifest.payload)
            verified = False
            for signature in manifest.signatures:
                try:
                    key.verify(signature.sig, message)
                    verified = True
                    break
                except InvalidSignature:
                    continue
            if verified:
                print("manifest signature verifies with the registry key")
            else:
                ok = not fail("no manifest signature verifies with the registry key")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
