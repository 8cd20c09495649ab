"""``appliance bundle build|verify``: the signed offline bundle the playbooks install from."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from appliance import __version__
from appliance.errors import InvalidRequest
from appliance.provision.bundle import BundleSpec, build, verify

bundle_app = typer.Typer(help="Build and verify the offline installation bundle.")

DEFAULT_DEBS = (
    "postgresql-15", "postgresql-client-15", "openjdk-17-jre-headless", "nginx",
    "python3-venv", "chrony", "nftables", "prometheus-node-exporter", "unzip", "acl",
    "openssl", "iproute2", "ca-certificates", "python3-apt", "libnuma1",
    # The audit_anchor role's receiver: syslog over TLS.
    "rsyslog", "rsyslog-gnutls",
)  # fmt: skip
# What the nvidia role installs on a GPU node that has no driver (nvidia_driver_packages);
# from Debian's non-free and non-free-firmware components, which the build machine's apt
# sources must then include.
NVIDIA_DEBS = ("nvidia-driver", "firmware-misc-nonfree")


def bundle_debs(deb: list[str] | None, *, no_debs: bool, nvidia_driver: bool) -> tuple[str, ...]:
    """The Debian packages to collect: the given ones or the roles' defaults, plus the
    NVIDIA driver for a CUDA site whose nodes come without it."""
    if no_debs:
        return ()
    return tuple(deb or DEFAULT_DEBS) + (NVIDIA_DEBS if nvidia_driver else ())


@bundle_app.command("build")
def build_command(
    *,
    output: Annotated[Path, typer.Option("-o", "--output", help="Archive to write (.tar).")],
    signing_key: Annotated[Path, typer.Option(help="Ed25519 private key (PEM) that signs.")],
    wheel_lock: Annotated[
        list[Path] | None,
        typer.Option(
            help="Hashed lock (name==version --hash=sha256:...) of extra wheels for wheels/; "
            "each file must match its hash. Repeatable."
        ),
    ] = None,
    wheels_from: Annotated[
        list[Path] | None,
        typer.Option(
            help="Directory where files of the locks of wheels/ and controller/wheels/ "
            "(requirements/runtime.txt, controller.txt, build.txt) already lie, checked by "
            "hash; the rest are downloaded. Repeatable."
        ),
    ] = None,
    vllm_venv: Annotated[
        Path | None, typer.Option(help="A working vLLM venv to repack (a build not on PyPI).")
    ] = None,
    vllm_lock: Annotated[
        Path | None,
        typer.Option(
            help="Hashed lock whose PyPI files vllm-wheels/ holds, e.g. requirements/vllm-cuda.txt."
        ),
    ] = None,
    vllm_wheels: Annotated[
        Path | None,
        typer.Option(
            help="Directory where the lock's wheels already lie (checked by hash; "
            "the rest are downloaded)."
        ),
    ] = None,
    deb: Annotated[
        list[str] | None, typer.Option(help="Debian package (default: what the roles use).")
    ] = None,
    no_debs: Annotated[bool, typer.Option(help="Skip Debian packages.")] = False,
    nvidia_driver: Annotated[
        bool,
        typer.Option(help="Add the NVIDIA driver the nvidia role installs (Debian non-free)."),
    ] = False,
    keycloak_zip: Annotated[Path | None, typer.Option(help="keycloak-<version>.zip")] = None,
    pgvector_src: Annotated[Path | None, typer.Option(help="Unpacked pgvector source.")] = None,
    model_dir: Annotated[Path | None, typer.Option(help="Model directory to ship.")] = None,
    model_name: Annotated[str, typer.Option(help="Directory name under model/.")] = "model",
    source: Annotated[
        Path | None, typer.Option(help="Appliance source tree (default: this installation's).")
    ] = None,
    as_directory: Annotated[
        bool, typer.Option("--directory", help="Leave bundle/ unpacked (no tar).")
    ] = False,
    controller: Annotated[
        bool,
        typer.Option(help="Add the controller's wheels and install-controller.sh."),
    ] = True,
    collection: Annotated[
        list[Path] | None,
        typer.Option(help="Ansible collection tarball for the controller; repeatable."),
    ] = None,
) -> None:
    """Collect wheels, packages, Keycloak, pgvector and the model into one signed archive."""
    spec = BundleSpec(
        output=output,
        signing_key=signing_key,
        version=__version__,
        wheel_locks=tuple(wheel_lock or ()),
        wheels_from=tuple(wheels_from or ()),
        vllm_venv=vllm_venv,
        vllm_lock=vllm_lock,
        vllm_wheels_dir=vllm_wheels,
        debs=bundle_debs(deb, no_debs=no_debs, nvidia_driver=nvidia_driver),
        keycloak_zip=keycloak_zip,
        pgvector_src=pgvector_src,
        model_dir=model_dir,
        model_name=model_name,
        appliance_source=source or Path(__file__).resolve().parents[2],
        as_directory=as_directory,
        controller=controller,
        collections=tuple(collection or ()),
    )
    try:
        path = build(spec, typer.echo)
    except InvalidRequest as exc:
        typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"bundle: {path}")


@bundle_app.command("verify")
def verify_command(
    archive: Annotated[Path, typer.Argument(help="Bundle archive or unpacked bundle/ dir.")],
    public_key: Annotated[Path, typer.Option(help="Ed25519 public key (PEM).")],
    scratch: Annotated[
        Path | None,
        typer.Option(
            help="Where an archive is unpacked for the check, in a temporary directory removed "
            "afterwards (default: the system's temporary directory); needs the archive's size."
        ),
    ] = None,
) -> None:
    """Check the signature, every file's SHA-256 and SM3, and the SBOM; exit 1 on any problem."""
    result = verify(archive, public_key, scratch)
    typer.echo(f"signature: {'valid' if result.signature_ok else 'INVALID'}")
    typer.echo(f"files checked: {result.checked}")
    for problem in result.problems:
        typer.secho(problem, fg=typer.colors.RED, err=True)
    if not result.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(bundle_app, name="bundle")
