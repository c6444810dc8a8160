"""Signing a serving bundle: OpenSSF model signing (`model-signing`) over a manifest of every file's sha256.

`sign_bundle` writes `<bundle>/model.sig`, a Sigstore bundle whose DSSE payload lists each file of the bundle (the
signature itself left out) with its sha256: keyless on GitHub (Sigstore; the certificate names the workflow that
signed), with an EC private key elsewhere (`generate_key_pair`: tests, laptops, act). `mlci.serving.verify` checks it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from mlci.errors import UserFacingError

SIGNATURE = "model.sig"  # inside the bundle; the manifest leaves it out
GITHUB_OIDC_ISSUER = "https://token.actions.githubusercontent.com"
RELEASE_WORKFLOW = ".github/workflows/release.yml"


class SigningError(UserFacingError):
    """The bundle or the private key to sign it with is missing."""


def github_identity(repository: str, ref: str = "refs/tags/{version}", workflow: str = RELEASE_WORKFLOW) -> str:
    """The identity a keyless signature from `workflow` of `repository` at `ref` carries (its certificate's SAN)."""
    return f"https://github.com/{repository}/{workflow}@{ref}"


def key_fingerprint(public_key: Path) -> str:
    """`sha256:<hex>` of the PEM public key: the hint model-signing writes into a key-signed bundle."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_public_key(Path(public_key).read_bytes())
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(pem).hexdigest()


def generate_key_pair(out: Path, name: str = "signing-key") -> tuple[Path, Path]:
    """A new ECDSA P-256 key pair: (`out/<name>.pem`, private, mode 0600; `out/<name>.pub`, public)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    out = Path(out)
    private, public = out / f"{name}.pem", out / f"{name}.pub"
    if private.exists():
        raise SigningError(f"{private} exists: keep it (its public key is {public}), or remove it for a new pair")
    out.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    private.touch(mode=0o600)
    private.chmod(0o600)
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private, public


def hashing_config():
    """Hash every file of the bundle but its signature (git paths included: a bundle holds none)."""
    import model_signing

    return model_signing.hashing.Config().set_ignored_paths(paths=[SIGNATURE], ignore_git_paths=False)


def require_ci_identity() -> None:
    """In CI, keyless signing needs the job's OIDC token: without one Sigstore would wait for a browser login."""
    from sigstore.oidc import IdentityError, detect_credential

    if not os.environ.get("CI"):
        return  # a laptop: model-signing opens the browser login
    try:
        found = detect_credential()
    except IdentityError as error:
        raise SigningError(f"keyless signing: the CI's OIDC token could not be had ({error})") from error
    if not found:
        raise SigningError(
            "keyless signing in CI needs the job's OIDC token (GitHub Actions: `permissions: id-token: write`); "
            "elsewhere sign with a key: --private-key (`mlci keygen` makes a pair)"
        )


def sign_bundle(bundle: Path, private_key: Path | None = None) -> Path:
    """Sign every file of `bundle` into `bundle/model.sig`: with `private_key` (PEM, EC), else keyless (Sigstore).

    Keyless needs an OIDC identity: on GitHub Actions the job's token (`id-token: write`), elsewhere a browser login.
    """
    import model_signing

    bundle = Path(bundle)
    if not bundle.is_dir():
        raise SigningError(f"{bundle} not found: write the bundle first (`mlci bundle`)")
    signature = bundle / SIGNATURE
    signature.unlink(missing_ok=True)
    config = model_signing.signing.Config().set_hashing_config(hashing_config())
    if private_key is not None:
        if not Path(private_key).is_file():
            raise SigningError(f"{private_key} not found: the private key to sign with (`mlci keygen` makes one)")
        try:
            config = config.use_elliptic_key_signer(private_key=Path(private_key))
        except (ValueError, TypeError) as error:
            raise SigningError(f"{private_key}: not an unencrypted PEM EC private key ({error})") from error
    else:
        require_ci_identity()
        config = config.use_sigstore_signer()
    config.sign(bundle, signature)
    signature.chmod(0o644)  # the serving image's user reads it, as every other file of the bundle
    return signature
