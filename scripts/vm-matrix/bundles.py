"""Writes the OCI bundles' config.json files of scripts/vm-matrix.sh's runc scenarios.

    bundles.py SPEC MOBY_PROFILE OUTDIR

SPEC is `runc spec`'s output; MOBY_PROFILE is Docker's default seccomp profile in moby's format
(Tests/CulpritCoreTests/Fixtures/seccomp-profiles/moby-default-0ec744f4.json), converted here to the OCI
form for the container's capabilities as Docker does (includes/excludes by caps, arch amd64,
minKernel). Every bundle shares the rootfs /crootfs (the static culprit, its test kit, gt and
busybox) and bind-mounts its own /bundles/NAME/out at /out; the process runs `sh /out/cmd`, which
the VM script fills with `exec COMMAND`, so the command is the container's only task.
"""
import copy
import json
import sys

spec_path, moby_path, outdir = sys.argv[1:4]
spec = json.load(open(spec_path))
moby = json.load(open(moby_path))

DOCKER_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
               "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
               "CAP_KILL", "CAP_AUDIT_WRITE"]


def kernel_at_least(version, minimum):
    return [int(x) for x in version.split(".")[:2]] >= [int(x) for x in minimum.split(".")[:2]]


def oci_profile(caps, drop=()):
    """moby's profile as Docker hands it to runc for a container with these capabilities."""
    rules = []
    for entry in moby["syscalls"]:
        inc, exc = entry.get("includes") or {}, entry.get("excludes") or {}
        if inc.get("caps") and not set(inc["caps"]) <= set(caps): continue
        if inc.get("arches") and "amd64" not in inc["arches"]: continue
        if inc.get("minKernel") and not kernel_at_least("6.1", inc["minKernel"]): continue
        if exc.get("caps") and set(exc["caps"]) & set(caps): continue
        if exc.get("arches") and "amd64" in exc["arches"]: continue
        names = [n for n in entry["names"] if n not in drop]
        if not names: continue
        rule = {"names": names, "action": entry["action"]}
        if entry.get("errnoRet") is not None: rule["errnoRet"] = entry["errnoRet"]
        if entry.get("args"): rule["args"] = entry["args"]
        rules.append(rule)
    return {"defaultAction": moby["defaultAction"], "defaultErrnoRet": moby.get("defaultErrnoRet", 1),
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], "syscalls": rules}


def bundle(name, caps=DOCKER_CAPS, seccomp=True, drop=(), apparmor="docker-default", userns=False):
    c = copy.deepcopy(spec)
    c["root"] = {"path": "/crootfs", "readonly": False}
    p = c["process"]
    p["terminal"] = False
    p["args"] = ["/bin/sh", "/out/cmd"]
    p["noNewPrivileges"] = False
    p["capabilities"] = {k: list(caps) for k in ("bounding", "effective", "permitted")}
    p["capabilities"]["inheritable"] = []
    p["capabilities"]["ambient"] = []
    if apparmor: p["apparmorProfile"] = apparmor
    c["mounts"].append({"destination": "/out", "type": "bind", "source": f"/bundles/{name}/out", "options": ["rbind", "rw"]})
    linux = c["linux"]
    if seccomp: linux["seccomp"] = oci_profile(caps, drop)
    # The VM script writes a pids limit into this cgroup between `runc create` and `runc start`.
    linux["cgroupsPath"] = f"/c8-{name}"
    if userns:
        linux["namespaces"].append({"type": "user"})
        linux["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        linux["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    # Docker's own network namespace has lo only here too; the probes need no network.
    return c


bundles = {
    # Docker's defaults: its seccomp profile, docker-default AppArmor, its 14 capabilities,
    # runc's device program.
    "runc-docker": bundle("runc-docker"),
    "runc-docker-yama1": bundle("runc-docker-yama1"),
    # The profile without its clone3 rule (Docker 20.10.0-20.10.9): clone3 meets the default EPERM.
    "runc-no-clone3": bundle("runc-no-clone3", drop={"clone3"}),
    # --pids-limit 2 with culprit as PID 1; a limit of 3 with culprit beside the PID 1 (sh), as
    # with `docker exec`.
    "runc-pids2": bundle("runc-pids2"),
    "runc-pids3-beside": bundle("runc-pids3-beside"),
    # A user namespace (container root is host uid 100000), Docker's caps and profile otherwise.
    "runc-userns": bundle("runc-userns", userns=True),
}
for name, config in bundles.items():
    import os
    os.makedirs(f"{outdir}/{name}", exist_ok=True)
    json.dump(config, open(f"{outdir}/{name}/config.json", "w"), indent=1)
print(" ".join(bundles))
