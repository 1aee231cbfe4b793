"""The deployment recipes are checked against the real binaries and the real daemon: the
Dockerfile's runtime packages are exactly those holding the libraries `ldd` lists, the container
config, the Kubernetes ConfigMap and the Helm chart's rendered config each start a real daemon
(with their paths pointed at files made here), the manifests pass yamllint and hold the
restricted-profile settings, and `cmake --install` lays out a systemd unit that
`systemd-analyze verify` accepts. No Docker engine or Kubernetes runs here (docs/operations.md)."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import yaml

from support.constants import REPO_ROOT, require_program
from support.edgemq_harness import EdgemqDaemon

DOCKERFILE = os.path.join(REPO_ROOT, "docker", "Dockerfile")
K8S_MANIFEST = os.path.join(REPO_ROOT, "deploy", "kubernetes", "edgemq.yaml")
K8S_CLUSTER = os.path.join(REPO_ROOT, "deploy", "kubernetes", "cluster", "edgemq-cluster.yaml")
CHART = os.path.join(REPO_ROOT, "deploy", "helm", "edgemq")
RENDER = os.path.join(REPO_ROOT, "scripts", "render-chart.py")
YAMLLINT_CONFIG = "{extends: default, rules: {line-length: {max: 160}, document-start: disable, comments: {min-spaces-from-content: 1}, truthy: {check-keys: false}, braces: {max-spaces-inside: 1}}}"


def strip_json_comments(text):
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))


def packages_of(binary):
    """The Debian packages that hold every shared library `ldd` lists for `binary`."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    packages = set()
    for line in out.splitlines():
        m = re.search(r"=>\s+(/\S+)", line)
        if not m:
            continue
        path = m.group(1)
        real = os.path.realpath(path)
        # usrmerge: dpkg may know the file under /lib or /usr/lib, by its link name or its target.
        candidates = [path, real] + [p[4:] for p in (path, real) if p.startswith("/usr/")] + ["/usr" + path]
        for c in candidates:
            r = subprocess.run(["dpkg", "-S", c], capture_output=True, text=True)
            if r.returncode == 0:
                packages.add(r.stdout.split(":")[0].strip())
                break
        else:
            raise AssertionError("no Debian package holds %s (%s)" % (path, binary))
    return packages


def read(path):
    with open(path) as f:
        return f.read()


def build_dir_of(binary):
    """<build>/src/app/edgemq -> <build>."""
    return os.path.dirname(os.path.dirname(os.path.dirname(binary)))


def dockerfile_runtime_packages():
    text = read(DOCKERFILE)
    runtime = text[text.rindex("FROM "):]  # the last stage
    m = re.search(r"apt-get install -y --no-install-recommends((?:[^&]|\\\n)*)&&", runtime)
    assert m, "no apt-get install in the runtime stage"
    return set(m.group(1).replace("\\", " ").split())


def yamllint(path):
    r = subprocess.run(["yamllint", "-s", "-d", YAMLLINT_CONFIG, path], capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def by_kind(docs):
    out = {}
    for d in docs:
        if d:
            out.setdefault(d["kind"], []).append(d)
    return out


class Secrets:
    """The files a config names under /etc/edgemq/...: made here, so the daemon can load them."""

    def __init__(self, root):
        self.root = root
        self.passwd = os.path.join(root, "passwd")
        subprocess.run([require_program("EDGEMQ_CLI"), "passwd", self.passwd, "alice"], input="secret\n", text=True,
                       check=True, capture_output=True)
        self.token = os.path.join(root, "admin-token")
        with open(self.token, "w") as f:
            f.write("s3cret-token\n")
        self._tls = None

    def tls(self):
        if self._tls is None:
            d = os.path.join(self.root, "tls")
            os.makedirs(d)
            run = lambda *a: subprocess.run(["openssl"] + list(a), cwd=d, check=True, capture_output=True)
            run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
                "-out", "ca.crt", "-days", "2", "-subj", "/CN=test-ca")
            run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "tls.key", "-out",
                "tls.csr", "-subj", "/CN=edgemq")
            run("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out",
                "tls.crt", "-days", "2")
            self._tls = d
        return self._tls

    def localize(self, config):
        """`config` with its /etc/edgemq paths pointed here and its ports made free ones."""
        text = json.dumps(config)
        text = text.replace("/etc/edgemq/secret/passwd", self.passwd)
        text = text.replace("/etc/edgemq/secret/admin-token", self.token)
        if "/etc/edgemq/tls/" in text:
            text = text.replace("/etc/edgemq/tls/", self.tls() + "/")
        text = re.sub(r"(\d+\.\d+\.\d+\.\d+):\d+", r"\1:0", text)
        return json.loads(text)


class DeploymentTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="edgemq-deploy-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def start_with(self, config, while_up=None):
        """Starts a real daemon on `config` (listeners and admin server as configured, on free
        ports); it must come up. `while_up(admin_port)` runs before it is stopped."""
        d = EdgemqDaemon(config=Secrets(self.tmp).localize(config), listen=None)
        d.start()
        self.addCleanup(d.cleanup)
        self.assertTrue(d.alive())
        if while_up:
            m = re.search(r"admin on https?://[^\s,]*:(\d+)", d.ready_line)
            self.assertIsNotNone(m, d.ready_line)
            while_up(int(m.group(1)))
        d.stop(expect_rc=0)

    # ---------------------------------------------------------------- container
    def test_dockerfile_installs_exactly_the_libraries_the_binaries_need(self):
        # The image builds with Debian's default compiler (g++) and no sanitizer; a build made
        # otherwise (scripts/sanitize.sh: clang, instrumented) links differently (clang keeps
        # libboost_system, which g++'s --as-needed drops), so only a like build can be compared.
        cache = read(os.path.join(build_dir_of(require_program("EDGEMQ_BIN")), "CMakeCache.txt"))
        sanitized = re.search(r"^EDGEMQ_SANITIZE:STRING=(\S+)", cache, re.M)
        compiler = re.search(r"^CMAKE_CXX_COMPILER:\w+=(.*)$", cache, re.M)
        if sanitized or (compiler and "clang" in compiler.group(1)):
            self.skipTest("not a build like the image's (g++, no sanitizer): %s" % (sanitized or compiler).group(0))
        needed = packages_of(require_program("EDGEMQ_BIN")) | packages_of(require_program("EDGEMQ_CLI"))
        self.assertEqual(dockerfile_runtime_packages(), needed)

    def test_dockerfile_runs_as_a_numeric_user_with_a_volume_and_a_healthcheck(self):
        text = read(DOCKERFILE)
        runtime = text[text.rindex("FROM "):]
        user = re.search(r"^USER\s+(\d+):(\d+)\s*$", runtime, re.M)
        self.assertIsNotNone(user, "USER must be numeric uid:gid")
        self.assertNotEqual(user.group(1), "0")
        self.assertRegex(runtime, r"(?m)^VOLUME /var/lib/edgemq$")
        self.assertRegex(runtime, r"(?m)^HEALTHCHECK .*\n?.*/healthz")

    def test_dockerignore_keeps_host_builds_and_data_out_of_the_context(self):
        patterns = [l.strip() for l in read(os.path.join(REPO_ROOT, ".dockerignore")).splitlines()
                    if l.strip() and l[0] != "#"]
        for needed in (".git", "build", "build-*", "data"):
            self.assertIn(needed, patterns)

    def test_container_config_starts_the_daemon_and_its_healthcheck_passes(self):
        text = read(DOCKERFILE)
        cmd = json.loads(re.search(r"HEALTHCHECK [^\n]*\\\n\s*CMD (\[.*\])", text).group(1))

        def healthcheck(admin_port):
            # The image's own HEALTHCHECK command, against this daemon's admin port.
            probe = [a.replace("/8080", "/%d" % admin_port) for a in cmd]
            r = subprocess.run(probe, capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

        with open(os.path.join(REPO_ROOT, "docker", "edgemq.json")) as f:
            self.start_with(json.loads(strip_json_comments(f.read())), while_up=healthcheck)

    # ---------------------------------------------------------------- kubernetes
    def check_statefulset(self, objects):
        kinds = by_kind(objects)
        (sts,) = kinds["StatefulSet"]
        pod = sts["spec"]["template"]["spec"]
        self.assertTrue(pod["securityContext"]["runAsNonRoot"])
        self.assertNotEqual(pod["securityContext"]["runAsUser"], 0)
        self.assertIn("fsGroup", pod["securityContext"])
        self.assertEqual(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault")
        (c,) = pod["containers"]
        sc = c["securityContext"]
        self.assertFalse(sc["allowPrivilegeEscalation"])
        self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
        self.assertTrue(sc["readOnlyRootFilesystem"])
        for probe, path in (("startupProbe", "/readyz"), ("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            self.assertEqual(c[probe]["httpGet"]["path"], path, probe)
            self.assertEqual(c[probe]["httpGet"]["port"], "admin", probe)
        self.assertIn("admin", [p["name"] for p in c["ports"]])
        self.assertIn("limits", c["resources"])
        self.assertIn("requests", c["resources"])
        # Workers follow the CPU limit.
        self.assertIn("$(EDGEMQ_CPU_LIMIT)", c["args"])
        env = {e["name"]: e for e in c["env"]}
        self.assertEqual(env["EDGEMQ_CPU_LIMIT"]["valueFrom"]["resourceFieldRef"]["resource"], "limits.cpu")
        mounts = {m["mountPath"] for m in c["volumeMounts"]}
        self.assertIn("/var/lib/edgemq", mounts)
        self.assertIn("/etc/edgemq/edgemq.json", mounts)
        self.assertTrue(sts["spec"]["volumeClaimTemplates"])
        volumes = {v["name"]: v for v in pod["volumes"]}
        self.assertIn("configMap", volumes["config"])
        self.assertIn("secret", volumes["secret"])
        services = kinds["Service"]
        self.assertTrue(any(s["spec"].get("clusterIP") == "None" for s in services), "a headless Service")
        self.assertEqual(sts["spec"]["serviceName"], [s for s in services if s["spec"].get("clusterIP") == "None"][0]
                         ["metadata"]["name"])
        self.assertTrue(any(s["spec"].get("clusterIP") != "None" for s in services), "a client Service")
        (cm,) = kinds["ConfigMap"]
        return json.loads(cm["data"]["edgemq.json"])

    def test_kubernetes_manifest_lints_holds_the_restricted_profile_and_its_config_starts(self):
        rc, out = yamllint(K8S_MANIFEST)
        self.assertEqual(rc, 0, out)
        with open(K8S_MANIFEST) as f:
            config = self.check_statefulset(list(yaml.safe_load_all(f)))
        self.start_with(config)

    def test_kubernetes_cluster_example_three_of_each_and_every_node_named_by_its_pod(self):
        rc, out = yamllint(K8S_CLUSTER)
        self.assertEqual(rc, 0, out)
        with open(K8S_CLUSTER) as f:
            objects = [o for o in yaml.safe_load_all(f) if o]
        sets = {o["metadata"]["name"]: o for o in objects if o["kind"] == "StatefulSet"}
        self.assertEqual(sorted(sets), ["edgemq", "etcd", "nats"])
        for name, sts in sets.items():
            self.assertEqual(sts["spec"]["replicas"], 3, name)
            (c,) = sts["spec"]["template"]["spec"]["containers"]
            env = {e["name"]: e for e in c.get("env", [])}
            self.assertEqual(env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name", name)
        etcd_args = sets["etcd"]["spec"]["template"]["spec"]["containers"][0]["args"]
        for flag in ("--pre-vote", "--experimental-enable-lease-checkpoint", "--auto-compaction-mode=revision"):
            self.assertIn(flag, etcd_args)
        args = sets["edgemq"]["spec"]["template"]["spec"]["containers"][0]["args"]
        self.assertEqual(args[args.index("--cluster-node") + 1], "$(POD_NAME)")
        self.assertEqual(len(args[args.index("--etcd") + 1].split(",")), 3)
        self.assertEqual(len(args[args.index("--nats") + 1].split(",")), 3)
        # The edgemq part holds what the single-node manifest holds (restricted profile, probes, services).
        mine = [o for o in objects if o["metadata"]["labels"].get("app.kubernetes.io/name") == "edgemq"]
        self.start_with(self.check_statefulset(mine))

    def render_chart(self, *sets):
        r = subprocess.run(["/usr/bin/python3", RENDER, CHART] + [a for s in sets for a in ("--set", s)],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        path = os.path.join(self.tmp, "rendered.yaml")
        with open(path, "w") as f:
            f.write(r.stdout)
        rc, out = yamllint(path)
        self.assertEqual(rc, 0, out + r.stdout)
        return list(yaml.safe_load_all(r.stdout))

    def test_helm_chart_renders_lints_and_its_config_starts(self):
        config = self.check_statefulset(self.render_chart())
        self.assertEqual(len(config["listeners"]), 1)
        self.start_with(config)

    def test_helm_chart_with_tls_and_client_certificates(self):
        objects = self.render_chart("tls.enabled=true", "tls.requireClientCert=true", "persistence.size=5Gi")
        config = self.check_statefulset(objects)
        (tls,) = [l for l in config["listeners"] if l["address"].startswith("mqtts://")]
        self.assertTrue(tls["tls"]["require_client_cert"])
        (sts,) = by_kind(objects)["StatefulSet"]
        self.assertEqual(sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"], "5Gi")
        self.assertIn("/etc/edgemq/tls", {m["mountPath"] for m in sts["spec"]["template"]["spec"]["containers"][0]
                                          ["volumeMounts"]})
        self.start_with(config)

    def test_chart_renderer_refuses_what_it_does_not_understand(self):
        chart = os.path.join(self.tmp, "chart")
        shutil.copytree(CHART, chart)
        with open(os.path.join(chart, "templates", "extra.yaml"), "w") as f:
            f.write("x: {{ range .Values.list }}\n")
        r = subprocess.run(["/usr/bin/python3", RENDER, chart], capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("extra.yaml", r.stderr)

    # ---------------------------------------------------------------- systemd
    def test_cmake_install_lays_out_binaries_config_and_a_valid_systemd_unit(self):
        build_dir = build_dir_of(require_program("EDGEMQ_BIN"))
        prefix = os.path.join(self.tmp, "prefix")
        r = subprocess.run(["cmake", "--install", build_dir, "--prefix", prefix], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for rel in ("bin/edgemq", "bin/edgemq-cli", "etc/edgemq/edgemq.json"):
            self.assertTrue(os.path.exists(os.path.join(prefix, rel)), rel)
        units = [os.path.join(dp, f) for dp, _, fs in os.walk(prefix) for f in fs if f == "edgemq.service"]
        self.assertEqual(len(units), 1, units)
        unit = read(units[0])
        self.assertIn("ExecReload=/bin/kill -HUP $MAINPID", unit)
        self.assertIn("RestartPreventExitStatus=2", unit)
        # The unit names the configured prefix; verify it against this install's binary.
        exec_start = re.search(r"^ExecStart=(\S+)/edgemq ", unit, re.M).group(1)
        local = os.path.join(self.tmp, "edgemq.service")
        with open(local, "w") as f:
            f.write(unit.replace(exec_start + "/", os.path.join(prefix, "bin") + "/"))
        r = subprocess.run(["systemd-analyze", "verify", local], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
