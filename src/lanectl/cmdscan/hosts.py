"""Tools that reach other machines: ssh and copies, clusters, clouds, images, the network.

Cluster, infrastructure and cloud CLIs have their read-only verbs
allow-listed; every other verb counts as mutating (SPEC §5.2).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from lanectl.cmdscan.base import (
    CREDENTIAL,
    NETWORK,
    OUTSIDE_PIPELINE,
    Call,
    Scan,
    has_option,
    positionals,
    remote_host,
    url_host,
)
from lanectl.cmdscan.shell import Word

PIPELINE = ("configuration and code reach hosts only through a reviewed, approved change "
            "and the deploy pipeline; lanectl prints such commands for a human, it never "
            "runs them")  # fmt: skip
SSH_VALUE = {"-b", "-c", "-D", "-E", "-e", "-F", "-I", "-i", "-J", "-L", "-l", "-m", "-O", "-o",
             "-p", "-P", "-Q", "-R", "-S", "-W", "-w", "-B"}  # fmt: skip
REMOTE_TOOLS = {"ssh", "scp", "sftp", "rsync", "mosh", "autossh", "ssh-copy-id", "slogin"}
# Read-only verbs of cluster, infrastructure and cloud CLIs; any other verb mutates.
READ_VERBS = {
    "kubectl": {"get", "describe", "logs", "explain", "version", "api-resources", "top",
                "api-versions", "cluster-info", "diff", "auth", "config", "wait", "events"},
    "terraform": {"fmt", "validate", "version", "plan", "show", "output", "graph",
                  "providers", "init", "console", "state", "workspace", "metadata", "test"},
    "helm": {"list", "ls", "status", "get", "history", "template", "lint", "show", "inspect",
             "search", "version", "env", "dependency", "dep", "package", "verify", "help"},
    "pulumi": {"preview", "version", "about", "help", "logs", "whoami"},
}  # fmt: skip
READ_VERBS["oc"] = READ_VERBS["kubectl"]
READ_VERBS["tofu"] = READ_VERBS["terragrunt"] = READ_VERBS["terraform"]
MUTATING_SUBVERBS = {("kubectl", "config"): {"set", "set-cluster", "set-context",
                                             "set-credentials", "delete-context", "use-context",
                                             "use", "unset", "rename-context"},
                     ("terraform", "state"): {"rm", "mv", "push", "replace-provider", "pull"},
                     ("terraform", "workspace"): {"new", "delete"},
                     ("kubectl", "auth"): {"reconcile"}}  # fmt: skip
CLOUD = {"aws", "gcloud", "gsutil", "az", "doctl", "fly", "flyctl", "heroku", "vercel",
         "netlify", "wrangler", "firebase", "serverless", "sls", "eb", "cf", "linode-cli",
         "hcloud", "ibmcloud", "oci", "scw", "ansible", "ansible-playbook"}  # fmt: skip
CLOUD_READ = re.compile(r"^(describe|list|get|show|ls|info|status|logs|version|help|wait|"
                        r"whoami|cat|stat|du|search|history)([-_].*)?$")  # fmt: skip
CLOUD_SECRET = re.compile(r"^(get-secret-value|get-parameters?|get-session-token|"
                          r"get-login-password|get-authorization-token|decrypt|"
                          r"get-access-token|print-access-token|print-identity-token|"
                          r"get-credentials|list-keys|configure|login|auth|vault)$")  # fmt: skip
NET_TOOLS = {"curl", "wget", "http", "https", "xh", "xhs", "aria2c", "nc", "ncat", "netcat",
             "socat", "telnet", "ftp", "lftp", "tftp", "nmap", "ping", "dig", "nslookup",
             "host", "websocat", "grpcurl", "openssl", "wscat", "whois", "traceroute"}  # fmt: skip
NET_VALUE = {"-H", "--header", "-d", "--data", "--data-raw", "--data-binary", "--data-urlencode",
             "-o", "--output", "-X", "--request", "-A", "--user-agent", "-e", "--referer",
             "-b", "--cookie", "-c", "--cookie-jar", "-F", "--form", "-T", "--upload-file",
             "-u", "--user", "-m", "--max-time", "-w", "--write-out", "-O", "-P", "-t", "-p",
             "-W", "-U", "--connect-timeout", "--retry", "-r", "--range", "-C", "--continue-at",
             "-E", "--cert", "--key", "--cacert", "--post-data", "--body-data", "-connect",
             "-servername", "-q", "-i"}  # fmt: skip
INSTALLERS = {"pip": {"install", "download", "wheel"}, "pip3": {"install", "download", "wheel"},
              "pipx": {"install", "run", "inject", "upgrade"},
              "uv": {"add", "sync", "lock", "tool", "pip"},
              "npm": {"install", "i", "ci", "add", "update", "exec", "publish", "login"},
              "npx": {"*"}, "yarn": {"add", "install", "dlx", "publish"},
              "pnpm": {"add", "install", "i", "dlx", "update", "publish"},
              "gem": {"install", "update", "push"}, "cargo": {"install", "add", "fetch",
                                                             "update", "publish"},
              "go": {"get", "install"}, "apt": {"install", "update"},
              "apt-get": {"install", "update"}, "brew": {"install", "upgrade", "tap"},
              "conda": {"install", "create", "update"}, "poetry": {"add", "install",
                                                                  "update", "publish"},
              "twine": {"upload"}}  # fmt: skip
CLOUD_MUTATING = {"create", "delete", "update", "set", "add", "remove", "deploy", "start", "stop",
                  "reset", "resize", "ssh", "scp", "apply", "patch", "import", "export",
                  "attach", "detach", "enable", "disable", "move", "restore", "rollback", "run",
                  "submit", "cancel", "upload", "cp", "mv", "rm", "sync", "rsync", "push",
                  "publish", "release", "scale", "destroy", "up", "down", "restart", "put",
                  "invoke", "tag", "untag", "mb", "rb", "presign"}  # fmt: skip


def _first(args: Sequence[Word], value: set[str] | frozenset[str] = frozenset()) -> list[str]:
    return [w.text for w in positionals(args, value)]


def remote(call: Call, out: Scan, depth: int) -> None:
    name = call.name
    if name == "ssh" and has_option(call.args, "-A"):
        out.red(CREDENTIAL, call.shown, "ssh -A forwards the human's SSH agent to another host")
    found = positionals(call.args, SSH_VALUE | {"--rsh", "-e"} if name == "rsync" else SSH_VALUE)
    label: str | None = None
    hosts: list[str] = []
    if name in ("scp", "rsync"):  # copies: any operand may name a host
        hosts = [h for w in found if not w.dynamic and (h := remote_host(w.text))]
        last = found[-1] if found else None
        if hosts and last is not None and not last.dynamic and remote_host(last.text) is None:
            label = "copy from a host outside pipeline"
    elif found and not found[0].dynamic:
        hosts = [remote_host(found[0].text) or found[0].text.split("@")[-1]]
        if name != "ssh-copy-id":
            label = "run commands on a host outside pipeline"
    if not hosts:
        if call.dynamic_tail or any(w.dynamic for w in found):
            out.doubt(call.shown, f"`{name}` with a target only known at run time")
        return
    where = ", ".join(dict.fromkeys(h.split("@")[-1] for h in hosts))
    for host in where.split(", "):
        out.host(host)
    out.red(OUTSIDE_PIPELINE, call.shown, f"{where} is outside the pipeline: {PIPELINE}", label)


def _split_global(args: Sequence[Word], value: set[str]) -> tuple[list[Word], list[Word]]:
    """(global options, the rest) for ``tool [global options] verb …``."""
    rest = positionals(args, value, stop_at_first=True)
    return list(args[: len(args) - len(rest)]), rest


def verb_tool(call: Call, out: Scan, depth: int) -> None:
    """kubectl, terraform, helm, pulumi: a read-only verb allow-list; anything else mutates."""
    name = {"oc": "kubectl", "tofu": "terraform", "terragrunt": "terraform"}.get(
        call.name, call.name
    )
    value = {"-n", "--namespace", "--context", "--cluster", "--kubeconfig", "-s", "--server",
             "--user", "-l", "--selector", "-o", "--output", "-f", "--filename", "-c",
             "--container", "--kube-context", "--stack", "-C", "--cwd"}  # fmt: skip
    words = positionals(call.args, value)
    if call.dynamic_tail or any(w.dynamic for w in words[:2]):
        out.doubt(call.shown, f"`{call.name}` with a verb only known at run time")
        return
    verb = words[0].text if words else ""
    sub = words[1].text if len(words) > 1 else ""
    if has_option(call.args, "--token", "--password", "--client-key") or (
        name == "kubectl" and verb == "config" and has_option(call.args, "--raw")
    ):
        out.red(
            CREDENTIAL,
            call.shown,
            f"`{call.name}` handles a cluster or cloud credential that is not {out.facts.actor}'s",
        )
    read = not verb or (
        verb in READ_VERBS[name] and sub not in MUTATING_SUBVERBS.get((name, verb), set())
    )
    if name == "kubectl" and verb == "rollout":
        read = sub in ("status", "history")
    if read:
        return
    kind = (
        "change a cluster outside pipeline"
        if name in ("kubectl", "helm")
        else ("change infrastructure outside pipeline")
    )
    out.red(
        OUTSIDE_PIPELINE, call.shown, f"`{call.name} {verb}` changes live systems: {PIPELINE}", kind
    )


def cloud(call: Call, out: Scan, depth: int) -> None:
    value = {"--region", "--profile", "--project", "--output", "--query", "--zone", "-g",
             "--resource-group", "--subscription", "--format", "-a", "--app", "-o", "-i",
             "--inventory", "-u", "--user", "-l", "--limit", "-m", "--module-name"}  # fmt: skip
    if call.dynamic_tail or any(w.dynamic for w in call.args if not w.text.startswith("-")):
        out.doubt(call.shown, f"`{call.name}` with arguments only known at run time")
        return
    words = [w.text for w in positionals(call.args, value)]
    if call.name.startswith("ansible"):
        if not has_option(call.args, "--syntax-check", "--version", "--list-tasks"):
            out.red(OUTSIDE_PIPELINE, call.shown, f"ansible configures remote hosts: {PIPELINE}")
        return
    if any(CLOUD_SECRET.match(w) for w in words):
        out.red(
            CREDENTIAL,
            call.shown,
            f"`{call.name}` hands out cloud credentials or secrets, "
            f"which belong to humans and the pipeline, not to {out.facts.actor}",
        )
        return
    if not words:
        if has_option(call.args, "--version", "--help", "-h") or call.name in (
            "aws",
            "gcloud",
            "az",
            "gsutil",
        ):
            return
        verb: str | None = None
    elif call.name == "aws":
        verb = words[1] if len(words) > 1 else words[0]  # aws SERVICE VERB
    elif call.name == "gsutil":
        verb = words[0]
    else:
        verb = next((w for w in words if CLOUD_READ.match(w) or w in CLOUD_MUTATING), None)
    if verb is not None and CLOUD_READ.match(verb) and verb not in CLOUD_MUTATING:
        return
    out.red(
        OUTSIDE_PIPELINE,
        call.shown,
        f"`{' '.join([call.name, *words[:3]])}` is not a "
        f"read-only verb, so it counts as changing live systems: {PIPELINE}",
        "change cloud resources outside pipeline",
    )


def container(call: Call, out: Scan, depth: int) -> None:
    options, rest = _split_global(
        call.args, {"-H", "--host", "-c", "--context", "--config", "-l", "--log-level"}
    )
    if has_option(options, "-H", "--host", "-c", "--context"):
        out.red(
            OUTSIDE_PIPELINE,
            call.shown,
            f"`{call.name} -H/--context` drives a daemon on another machine: {PIPELINE}",
        )
    words = [w.text for w in positionals(rest)]
    verb = words[0] if words else ""
    pushing = verb == "push" or words[:2] in (
        ["image", "push"],
        ["manifest", "push"],
        ["compose", "push"],
    )
    pushing |= any(w.text == "--push" for w in rest) or "type=registry" in call.shown
    if pushing:
        out.red(
            OUTSIDE_PIPELINE,
            call.shown,
            f"pushing an image publishes it: {PIPELINE}",
            "push an image outside pipeline",
        )
    if verb == "login" or words[:2] == ["context", "create"]:
        out.red(
            CREDENTIAL,
            call.shown,
            f"registry logins and contexts use credentials that are not {out.facts.actor}'s",
        )


def network(call: Call, out: Scan, depth: int) -> None:
    args = call.args
    targets = positionals(args, NET_VALUE | {"-x", "--proxy", "--connect-to", "--resolve"})
    if call.dynamic_tail or any(w.dynamic for w in targets):  # a dynamic header is fine
        out.doubt(call.shown, f"`{call.name}` with a target only known at run time")
        return
    if has_option(args, "-K", "--config", "-i", "--input-file") and call.name in (
        "curl",
        "wget",
        "aria2c",
    ):
        out.doubt(call.shown, f"`{call.name}` reading its targets from a file")
        return
    hosts: list[str] = []
    for word in args:
        text = word.text.split("=", 1)[1] if word.text.startswith("--") else word.text
        if not word.dynamic and (host := url_host(text)):
            hosts.append(host)
    found = [w.text for w in targets]
    for index, word in enumerate(args):
        if word.text in ("-x", "--proxy", "--connect-to", "--resolve"):
            out.doubt(call.shown, f"`{call.name} {word.text}` (it changes where the request goes)")
        elif word.text == "-connect" and index + 1 < len(args):
            hosts.append(args[index + 1].text.rsplit(":", 1)[0])
    if not hosts and found:
        first = found[0]
        for piece in (first, *found[1:2]) if call.name in ("nc", "ncat", "netcat") else (first,):
            if re.fullmatch(r"[A-Za-z0-9.\-\[\]:]+", piece) and not piece.isdigit():
                hosts.append(piece.split(":")[0] if piece.count(":") == 1 else piece)
                break
    if call.name == "openssl" and not any(w.text in ("s_client", "s_server") for w in args):
        return
    if not hosts:
        if found and call.name not in ("openssl",):
            out.doubt(call.shown, f"`{call.name}` without a host lanectl can read")
        return
    for host in hosts:
        out.host(host)
        if not out.facts.host_allowed(host):
            allowed = ", ".join(sorted(out.facts.allowed_hosts)) or "none configured"
            out.red(
                NETWORK,
                call.shown,
                f"{host} is not a configured provider host "
                f"({allowed}); builder tools reach only their providers",
            )


def installer(call: Call, out: Scan, depth: int) -> None:
    words = _first(call.args, {"-r", "--requirement", "-c", "-i", "--index-url", "-C", "-p"})
    verbs = INSTALLERS[call.name]
    verb = words[0] if words else ("install" if call.name == "yarn" else "")
    if call.name == "uv" and words[:2] in (["pip", "list"], ["pip", "show"], ["pip", "freeze"]):
        return
    offline = has_option(call.args, "--no-index", "--offline")
    if ("*" in verbs or verb in verbs) and not offline:
        out.red(
            NETWORK,
            call.shown,
            f"`{call.name} {verb}`".strip() + " downloads or publishes "
            "packages over the network; declare dependencies in the task's diff and let a "
            "human install them, or use --offline / --no-index",
            "install packages from the network",
        )


DETECTORS: dict[str, Callable[[Call, Scan, int], None]] = {
    **dict.fromkeys(REMOTE_TOOLS, remote),
    **dict.fromkeys(READ_VERBS, verb_tool),
    **dict.fromkeys(CLOUD, cloud),
    **dict.fromkeys(("docker", "podman", "nerdctl", "buildah"), container),
    **dict.fromkeys(NET_TOOLS, network),
    **dict.fromkeys(INSTALLERS, installer),
}
