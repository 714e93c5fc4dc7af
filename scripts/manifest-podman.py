#!/usr/bin/env python3
"""Turns a container of a manifest in deploy/ into `podman run` options, so that scripts/test-image.sh runs the
image exactly as the manifest says: user and group, capabilities, no privilege escalation, read-only root
filesystem, the volume mounts at their paths (read-only where the manifest says so), the environment and the
arguments (with $(VAR) expanded, as the kubelet does).

    manifest-podman.py MANIFEST CONTAINER [--volume NAME=HOST_PATH]... [--env NAME=VALUE]... [--user UID:GID]
                       [--without-added-capabilities]

Prints the podman options, then the line "--image--", then the container's arguments, NUL-separated. Every
volume the container mounts needs --volume (an emptyDir becomes a tmpfs of its sizeLimit); a mount without
one, an env var without --env, or a securityContext field this cannot express stops with exit 2, so the
manifests and the test cannot drift apart. --user replaces the manifest's user (the test's non-root run); --without-added-capabilities leaves out the
capabilities the manifest adds (the test of an agent that lacks them).
"""
import re
import sys

import yaml

CAN_EXPRESS = {"privileged", "allowPrivilegeEscalation", "readOnlyRootFilesystem", "runAsUser", "runAsGroup",
               "runAsNonRoot", "capabilities", "seccompProfile"}


def fail(message):
    print("manifest-podman: " + message, file=sys.stderr)
    sys.exit(2)


def main():
    if len(sys.argv) < 3:
        fail("usage: manifest-podman.py MANIFEST CONTAINER [--volume NAME=PATH]... [--env NAME=VALUE]... [--user UID:GID]")
    manifest, wanted = sys.argv[1], sys.argv[2]
    volumes, env, user, add_capabilities = {}, {}, None, True
    rest = sys.argv[3:]
    while rest:
        flag = rest.pop(0)
        if flag in ("--volume", "--env") and rest:
            name, _, value = rest.pop(0).partition("=")
            (volumes if flag == "--volume" else env)[name] = value
        elif flag == "--user" and rest:
            user = rest.pop(0)
        elif flag == "--without-added-capabilities":
            add_capabilities = False
        else:
            fail("unknown option " + flag)
    pod = None
    with open(manifest) as file:
        for document in yaml.safe_load_all(file):
            if document and document.get("kind") in ("DaemonSet", "Deployment"):
                spec = document["spec"]["template"]["spec"]
                if any(c["name"] == wanted for c in spec["containers"]):
                    pod = spec
    if pod is None:
        fail("no DaemonSet or Deployment in %s has a container %s" % (manifest, wanted))
    container = next(c for c in pod["containers"] if c["name"] == wanted)
    security = dict(pod.get("securityContext") or {})
    security.update(container.get("securityContext") or {})
    unknown = set(security) - CAN_EXPRESS
    if unknown:
        fail("securityContext fields %s of %s have no podman equivalent here" % (sorted(unknown), wanted))
    if security.get("privileged"):
        fail("a privileged container is not what routeprobe ships")
    if (security.get("seccompProfile") or {}).get("type", "RuntimeDefault") != "RuntimeDefault":
        fail("only seccompProfile RuntimeDefault (podman's default profile) is expressed")
    options = []
    uid = security.get("runAsUser")
    gid = security.get("runAsGroup", 0 if uid == 0 else uid)
    if user is None:
        if uid is None:
            fail("%s sets no runAsUser: the image's user would depend on the image" % wanted)
        user = "%d:%d" % (uid, gid)
    if security.get("runAsNonRoot") and user.split(":")[0] == "0":
        fail("%s says runAsNonRoot but runs as uid 0" % wanted)
    options += ["--user", user]
    capabilities = security.get("capabilities") or {}
    for capability in capabilities.get("drop", []):
        options += ["--cap-drop", capability.lower()]
    for capability in capabilities.get("add", []) if add_capabilities else []:
        options += ["--cap-add", capability]
    if security.get("allowPrivilegeEscalation") is False:
        options += ["--security-opt", "no-new-privileges"]
    if security.get("readOnlyRootFilesystem"):
        # Kubernetes adds no tmpfs to a read-only root (podman does by default): neither does this run.
        options += ["--read-only", "--read-only-tmpfs=false"]
    declared = {v["name"]: v for v in pod.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        name, path = mount["name"], mount["mountPath"]
        volume = declared.get(name)
        if volume is None:
            fail("%s mounts volume %s, which the pod does not declare" % (wanted, name))
        if "emptyDir" in volume:
            size = (volume["emptyDir"] or {}).get("sizeLimit", "64Mi").replace("Mi", "m").replace("Gi", "g")
            options += ["--tmpfs", "%s:rw,size=%s,mode=1777" % (path, size)]
            continue
        if name not in volumes:
            fail("%s mounts volume %s at %s: give it with --volume %s=PATH" % (wanted, name, path, name))
        options += ["--volume", "%s:%s%s" % (volumes[name], path, ":ro" if mount.get("readOnly") else "")]
    for variable in container.get("env", []):
        if variable["name"] not in env:
            fail("%s needs env %s (%s): give it with --env" % (wanted, variable["name"], variable.get("valueFrom", variable.get("value"))))
    for name, value in env.items():
        options += ["--env", "%s=%s" % (name, value)]

    def expand(argument):
        return re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), argument)

    arguments = [expand(a) for a in container.get("command", []) + container.get("args", [])]
    sys.stdout.write("\0".join(options + ["--image--"] + arguments) + "\0")


main()
