// What the chart in k8s/chart promises, checked on the objects that
// `helm template` renders for each value set in tests/helm/values/.
// Run by tests/helm/test_chart.sh, which provides $HELM.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseObjects, validateObject } from './k8s_validate.mjs';

const HELM = process.env.HELM;
const CHART = 'k8s/chart';
const VALUES = 'tests/helm/values';
const RELEASE = 'binrelay';
const NS = 'ci';

function helm(...args) {
  return spawnSync(HELM, args, { encoding: 'utf8' });
}

function render(valuesFile, ...extra) {
  const args = ['template', RELEASE, CHART, '--namespace', NS, ...extra];
  if (valuesFile) args.push('-f', join(VALUES, valuesFile));
  const r = helm(...args);
  assert.equal(r.status, 0, `helm template failed:\n${r.stderr}`);
  return parseObjects(r.stdout);
}

// ---- reading the rendered objects ---------------------------------------

function only(objs, kind, name) {
  const found = objs.filter((o) => o.kind === kind && (!name || o.metadata.name === name));
  assert.equal(found.length, 1, `expected one ${kind} ${name ?? ''}, got ${found.length}`);
  return found[0];
}

const none = (objs, kind) => assert.deepEqual(objs.filter((o) => o.kind === kind), []);
const podOf = (objs) => only(objs, 'StatefulSet').spec.template.spec;

function container(pod, name) {
  const all = [...(pod.initContainers ?? []), ...pod.containers];
  const c = all.find((x) => x.name === name);
  assert.ok(c, `no container ${name}`);
  return c;
}

// The value after 'flag' in an argument list; undefined when absent.
function flag(args, name) {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
}

function env(c, name) {
  return (c.env ?? []).find((e) => e.name === name);
}

function volume(pod, name) {
  const v = pod.volumes.find((x) => x.name === name);
  assert.ok(v, `no volume ${name}`);
  return v;
}

function mount(c, name) {
  return (c.volumeMounts ?? []).find((m) => m.name === name);
}

// Runs the sidecar's role wrapper as pod 'podName' would, with a stub in
// place of the sidecar binary; returns the arguments the stub received.
const stubDir = mkdtempSync(join(tmpdir(), 'binrelay-chart-'));
const stub = join(stubDir, 'sidecar');
writeFileSync(stub, '#!/bin/sh\nprintf "%s\\n" "$@"\n');
chmodSync(stub, 0o755);

function sidecarArgv(pod, podName) {
  const sc = container(pod, 'sidecar');
  const [shell, dashC, script, ...rest] = sc.command;
  assert.deepEqual([shell, dashC], ['/bin/sh', '-c']);
  const r = spawnSync(shell, [dashC, script.replaceAll('/usr/local/bin/sidecar', stub), ...rest, ...sc.args], {
    encoding: 'utf8',
    env: { PATH: '/usr/bin:/bin', POD_NAME: podName, LEADER_URL: env(sc, 'LEADER_URL').value },
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').slice(0, -1);
}

// ---- what holds for every value set ------------------------------------

function checkSchemas(objs) {
  assert.ok(objs.length > 0);
  assert.deepEqual(objs.flatMap(validateObject), []);
}

function checkTopology(objs) {
  const sts = only(objs, 'StatefulSet');
  const name = sts.metadata.name;
  const podLabels = sts.spec.template.metadata.labels;
  const headless = only(objs, 'Service', sts.spec.serviceName);
  const leader = only(objs, 'Service', `${name}-leader`);

  assert.equal(sts.spec.podManagementPolicy, 'Parallel');
  for (const [k, v] of Object.entries(sts.spec.selector.matchLabels)) assert.equal(podLabels[k], v);
  assert.equal(headless.spec.clusterIP, 'None');
  assert.equal(headless.spec.publishNotReadyAddresses, true);
  for (const [k, v] of Object.entries(headless.spec.selector)) assert.equal(podLabels[k], v);

  // The leader service picks pod 0 and nothing else.
  const { 'statefulset.kubernetes.io/pod-name': pod0, ...rest } = leader.spec.selector;
  assert.equal(pod0, `${name}-0`);
  for (const [k, v] of Object.entries(rest)) assert.equal(podLabels[k], v);
  assert.equal(leader.spec.ports[0].targetPort, 'http');
}

function checkContainers(objs) {
  const sts = only(objs, 'StatefulSet');
  const pod = podOf(objs);
  const builder = container(pod, 'builder');
  const sidecar = container(pod, 'sidecar');

  assert.deepEqual(builder.command, ['/usr/local/bin/builder']);
  assert.match(sidecar.command[2], /exec \/usr\/local\/bin\/sidecar "\$@"/);
  assert.equal(builder.image, sidecar.image);

  // builder --out and sidecar --watch are one emptyDir, at one path.
  const out = flag(builder.args, '--out');
  assert.equal(flag(sidecar.args, '--watch'), out);
  assert.deepEqual(volume(pod, 'shared'), { name: 'shared', emptyDir: {} });
  assert.equal(mount(builder, 'shared').mountPath, out);
  assert.equal(mount(sidecar, 'shared').mountPath, out);

  // Both size the fleet from this StatefulSet.
  for (const c of [builder, sidecar]) {
    assert.equal(flag(c.args, '--workers'), 'k8s');
    assert.equal(flag(c.args, '--statefulset'), sts.metadata.name);
    assert.ok(c.resources?.requests, `${c.name} has no resource requests`);
  }

  // The pipelines are read-only to the builder, at the directory it reads.
  assert.equal(mount(builder, 'pipelines').readOnly, true);
  assert.ok(flag(builder.args, '--pipelines').startsWith(mount(builder, 'pipelines').mountPath));
}

function checkRoles(objs) {
  const pod = podOf(objs);
  const name = only(objs, 'StatefulSet').metadata.name;
  const store = only(objs, 'StatefulSet').spec.volumeClaimTemplates;
  assert.deepEqual(store.map((t) => t.metadata.name), ['store']);
  const storePath = mount(container(pod, 'sidecar'), 'store').mountPath;
  const leaderURL = env(container(pod, 'sidecar'), 'LEADER_URL').value;

  const leaderArgs = sidecarArgv(pod, `${name}-0`);
  assert.equal(flag(leaderArgs, '--store'), storePath);
  assert.equal(flag(leaderArgs, '--pipelines'), flag(container(pod, 'builder').args, '--pipelines'));
  assert.equal(flag(leaderArgs, '--leader'), undefined);

  for (const worker of [`${name}-1`, `${name}-10`]) {
    const args = sidecarArgv(pod, worker);
    assert.equal(flag(args, '--leader'), leaderURL);
    assert.equal(flag(args, '--store'), undefined);
    assert.equal(flag(args, '--watch'), flag(leaderArgs, '--watch'));
  }

  // --leader is pod 0 through the headless service, and the template the
  // leader polls workers with gives the same address for {k} = 0.
  const sidecar = container(pod, 'sidecar');
  const template = flag(sidecar.args, '--worker-url-template');
  const port = sidecar.ports.find((p) => p.name === 'http').containerPort;
  assert.match(leaderURL, new RegExp(`^https?://${name}-0\\.${name}\\.${NS}\\.svc\\.cluster\\.local:${port}$`));
  assert.equal(template.replace('{k}', '0'), leaderURL);
  assert.equal(flag(sidecar.args, '--listen'), String(port));
}

function checkProbes(objs) {
  const sidecar = container(podOf(objs), 'sidecar');
  const scheme = env(sidecar, 'LEADER_URL').value.startsWith('https:') ? 'HTTPS' : 'HTTP';
  assert.deepEqual(sidecar.livenessProbe.httpGet, { path: '/healthz', port: 'http', scheme });
  assert.match(sidecar.readinessProbe.httpGet.path, /^\/healthz(\?check_storage=true)?$/);
  assert.equal(sidecar.readinessProbe.httpGet.port, 'http');
  assert.equal(sidecar.readinessProbe.httpGet.scheme, scheme);
}

function checkSecurity(objs) {
  const pod = podOf(objs);
  const psc = pod.securityContext;
  assert.equal(psc.runAsNonRoot, true);
  assert.ok(psc.runAsUser > 0);
  assert.equal(psc.seccompProfile.type, 'RuntimeDefault');
  const all = [...(pod.initContainers ?? []), ...pod.containers];
  for (const c of all) {
    const sc = c.securityContext;
    assert.equal(sc.runAsNonRoot ?? psc.runAsNonRoot, true, c.name);
    assert.equal(sc.readOnlyRootFilesystem, true, c.name);
    assert.equal(sc.allowPrivilegeEscalation, false, c.name);
    assert.notEqual(sc.privileged, true, c.name);
    assert.deepEqual(sc.capabilities, { drop: ['ALL'] }, c.name);
    assert.equal((sc.seccompProfile ?? psc.seccompProfile).type, 'RuntimeDefault', c.name);
    // A read-only root needs a writable /tmp of its own.
    const tmp = c.volumeMounts.find((m) => m.mountPath === '/tmp');
    assert.ok(tmp && !tmp.readOnly, `${c.name} has no writable /tmp`);
    assert.ok(volume(pod, tmp.name).emptyDir, `${c.name}: /tmp is not an emptyDir`);
  }
  // Every mount names a volume of the pod or a claim template.
  const claims = only(objs, 'StatefulSet').spec.volumeClaimTemplates.map((t) => t.metadata.name);
  const names = new Set([...pod.volumes.map((v) => v.name), ...claims]);
  for (const c of all) for (const m of c.volumeMounts) assert.ok(names.has(m.name), `${c.name}: ${m.name}`);
}

function checkRBAC(objs) {
  const sts = only(objs, 'StatefulSet');
  const role = only(objs, 'Role');
  const binding = only(objs, 'RoleBinding');
  assert.deepEqual(role.rules, [
    { apiGroups: ['apps'], resources: ['statefulsets'], resourceNames: [sts.metadata.name], verbs: ['get'] },
  ]);
  assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name });
  assert.deepEqual(binding.subjects, [
    { kind: 'ServiceAccount', name: sts.spec.template.spec.serviceAccountName, namespace: NS },
  ]);
  assert.notEqual(sts.spec.template.spec.automountServiceAccountToken, false);
}

function checkGrace(objs) {
  const pod = podOf(objs);
  const timeout = Number(flag(container(pod, 'sidecar').args, '--upload-timeout'));
  assert.ok(pod.terminationGracePeriodSeconds > timeout, 'grace period shorter than an upload');
}

function checkToken(objs) {
  const pod = podOf(objs);
  const sidecar = container(pod, 'sidecar');
  const file = flag(sidecar.args, '--token-file');
  if (file === undefined) {
    assert.ok(sidecar.args.includes('--insecure-no-auth'));
    return;
  }
  const m = mount(sidecar, 'token');
  assert.ok(file.startsWith(`${m.mountPath}/`));
  const key = file.slice(m.mountPath.length + 1);
  const secret = volume(pod, 'token').secret;
  assert.deepEqual(secret.items, [{ key, path: key }]);
  const made = objs.find((o) => o.kind === 'Secret' && o.metadata.name === secret.secretName);
  if (made) assert.ok(made.data[key], `Secret ${secret.secretName} has no key ${key}`);
}

const everyCase = { checkSchemas, checkTopology, checkContainers, checkRoles, checkProbes,
                    checkSecurity, checkRBAC, checkGrace, checkToken };

// ---- the value sets ----------------------------------------------------

const cases = {
  defaults: {
    file: null,
    check(objs) {
      const sts = only(objs, 'StatefulSet');
      const pod = podOf(objs);
      const builder = container(pod, 'builder');
      const sidecar = container(pod, 'sidecar');
      assert.equal(sts.metadata.name, 'binrelay');
      assert.equal(sts.spec.replicas, 1);
      assert.deepEqual(pod.containers.map((c) => c.name), ['builder', 'sidecar']);
      assert.equal(pod.initContainers, undefined);
      assert.equal(builder.image, 'binrelay:0.1.0');
      // No cache: the builder's default, so the flag is left out.
      assert.equal(flag(builder.args, '--compiler-cache'), undefined);
      assert.equal(flag(builder.args, '--build-cmd'), undefined);
      assert.deepEqual(builder.env.map((e) => e.name), ['HOME', 'TMPDIR']);
      assert.equal(flag(sidecar.args, '--upload-retries'), '10');
      assert.equal(flag(sidecar.args, '--upload-retry-delay-ms'), '1000');
      assert.equal(flag(sidecar.args, '--max-binary-bytes'), undefined);
      assert.equal(flag(sidecar.args, '--tls-cert'), undefined);
      assert.equal(sidecar.readinessProbe.httpGet.path, '/healthz');
      assert.equal(pod.terminationGracePeriodSeconds, 660);
      assert.equal(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage, '20Gi');
      assert.equal(sts.spec.volumeClaimTemplates[0].spec.storageClassName, undefined);
      // A token made by the chart: random, 48 characters.
      const token = Buffer.from(only(objs, 'Secret', 'binrelay-token').data.token, 'base64').toString();
      assert.match(token, /^[A-Za-z0-9]{48}$/);
      // Pipelines from an (empty) ConfigMap the chart makes.
      assert.deepEqual(only(objs, 'ConfigMap', 'binrelay-pipelines').data, {});
      assert.deepEqual(volume(pod, 'pipelines').configMap, { name: 'binrelay-pipelines' });
      assert.equal(only(objs, 'ServiceAccount').metadata.annotations, undefined);
    },
  },
  'parallel-3': {
    file: 'parallel-3.yaml',
    check(objs) {
      assert.equal(only(objs, 'StatefulSet').spec.replicas, 3);
      const pod = podOf(objs);
      const urls = [0, 1, 2].map((k) => flag(sidecarArgv(pod, `binrelay-${k}`), '--leader'));
      assert.deepEqual(urls, [undefined, env(container(pod, 'sidecar'), 'LEADER_URL').value,
                              env(container(pod, 'sidecar'), 'LEADER_URL').value]);
    },
  },
  'parallel-disabled': {
    file: 'parallel-disabled.yaml',
    check(objs) {
      assert.equal(only(objs, 'StatefulSet').spec.replicas, 1);
    },
  },
  'sccache-secret': {
    file: 'sccache-secret.yaml',
    check(objs) {
      const pod = podOf(objs);
      const builder = container(pod, 'builder');
      assert.equal(only(objs, 'StatefulSet').spec.replicas, 2);
      assert.equal(flag(builder.args, '--compiler-cache'), 'sccache');
      const plain = Object.fromEntries(builder.env.filter((e) => 'value' in e).map((e) => [e.name, e.value]));
      assert.deepEqual(plain, {
        HOME: '/tmp',
        TMPDIR: '/tmp',
        SCCACHE_BUCKET: 'binrelay-cache',
        SCCACHE_REGION: 'eu-west-1',
        SCCACHE_S3_KEY_PREFIX: 'ci/sccache',
        SCCACHE_S3_USE_SSL: 'true',
        SCCACHE_S3_SERVER_SIDE_ENCRYPTION: 'true',
      });
      assert.deepEqual(env(builder, 'AWS_ACCESS_KEY_ID').valueFrom,
                       { secretKeyRef: { name: 'sccache-s3-secret', key: 'access_key_id' } });
      assert.deepEqual(env(builder, 'AWS_SECRET_ACCESS_KEY').valueFrom,
                       { secretKeyRef: { name: 'sccache-s3-secret', key: 'secret_access_key' } });
      // The credentials reach the builder only.
      assert.equal(JSON.stringify(container(pod, 'sidecar')).includes('sccache-s3-secret'), false);
    },
  },
  'sccache-irsa': {
    file: 'sccache-irsa.yaml',
    check(objs) {
      const pod = podOf(objs);
      const builder = container(pod, 'builder');
      const sa = only(objs, 'ServiceAccount');
      assert.equal(flag(builder.args, '--compiler-cache'), 'sccache');
      assert.equal(env(builder, 'SCCACHE_BUCKET').value, 'binrelay-cache');
      assert.equal(env(builder, 'SCCACHE_REGION').value, 'us-east-2');
      assert.equal(env(builder, 'SCCACHE_S3_KEY_PREFIX').value, 'sccache');
      // No static credentials: the role annotation supplies the identity.
      assert.deepEqual(builder.env.filter((e) => e.name.startsWith('AWS_')), []);
      assert.equal(env(builder, 'SCCACHE_ENDPOINT'), undefined);
      assert.equal(env(builder, 'SCCACHE_S3_SERVER_SIDE_ENCRYPTION'), undefined);
      assert.deepEqual(sa.metadata.annotations,
                       { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/binrelay-sccache' });
      assert.equal(pod.serviceAccountName, sa.metadata.name);
    },
  },
  's3-endpoint': {
    file: 's3-endpoint.yaml',
    check(objs) {
      const builder = container(podOf(objs), 'builder');
      assert.equal(env(builder, 'SCCACHE_ENDPOINT').value, 'minio.minio.svc.cluster.local:9000');
      assert.equal(env(builder, 'SCCACHE_S3_USE_SSL').value, 'false');
      assert.equal(env(builder, 'SCCACHE_REGION').value, 'auto');
      assert.equal(env(builder, 'SCCACHE_BUCKET').value, 'sccache');
      assert.equal(env(builder, 'AWS_ACCESS_KEY_ID').valueFrom.secretKeyRef.name, 'minio-credentials');
    },
  },
  'git-sync': {
    file: 'git-sync.yaml',
    check(objs) {
      const pod = podOf(objs);
      none(objs, 'ConfigMap');
      assert.deepEqual(pod.initContainers.map((c) => c.name), ['git-sync-init']);
      assert.deepEqual(pod.containers.map((c) => c.name), ['builder', 'sidecar', 'git-sync']);
      for (const [name, oneTime] of [['git-sync-init', 'true'], ['git-sync', 'false']]) {
        const g = container(pod, name);
        assert.match(g.image, /^registry\.k8s\.io\/git-sync\/git-sync:v4\./);
        assert.equal(env(g, 'GITSYNC_REPO').value, 'https://git.example.com/team/pipelines.git');
        assert.equal(env(g, 'GITSYNC_REF').value, 'release');
        assert.equal(env(g, 'GITSYNC_PERIOD').value, '30s');
        assert.equal(env(g, 'GITSYNC_ONE_TIME').value, oneTime);
        assert.equal(env(g, 'GITSYNC_ROOT').value, mount(g, 'pipelines').mountPath);
        assert.notEqual(mount(g, 'pipelines').readOnly, true);
        assert.deepEqual(env(g, 'GITSYNC_USERNAME').valueFrom,
                         { secretKeyRef: { name: 'git-credentials', key: 'username' } });
        assert.equal(env(g, 'GITSYNC_PASSWORD_FILE').value,
                     `${mount(g, 'git-secret').mountPath}/password`);
      }
      assert.deepEqual(volume(pod, 'pipelines'), { name: 'pipelines', emptyDir: {} });
      assert.equal(volume(pod, 'git-secret').secret.secretName, 'git-credentials');
      // The builder reads the checkout through git-sync's symlink.
      const link = env(container(pod, 'git-sync'), 'GITSYNC_LINK').value;
      assert.equal(flag(container(pod, 'builder').args, '--pipelines'), `/pipelines/${link}/pipelines`);
    },
  },
  'existing-claim': {
    file: 'existing-claim.yaml',
    check(objs) {
      const pod = podOf(objs);
      none(objs, 'ConfigMap');
      assert.deepEqual(volume(pod, 'pipelines').persistentVolumeClaim,
                       { claimName: 'shared-pipelines', readOnly: true });
      assert.equal(flag(container(pod, 'builder').args, '--pipelines'), '/pipelines/binrelay');
    },
  },
  'configmap-files': {
    file: 'configmap-files.yaml',
    check(objs) {
      const pod = podOf(objs);
      const cm = only(objs, 'ConfigMap', 'binrelay-pipelines');
      const items = volume(pod, 'pipelines').configMap.items;
      const tree = Object.fromEntries(items.map((i) => [i.path, cm.data[i.key]]));
      assert.deepEqual(Object.keys(tree).sort(), [
        '123e4567-e89b-12d3-a456-426614174000/pipeline.json',
        '42/Makefile', '42/main.c', '42/pipeline.json',
      ]);
      assert.equal(tree['42/pipeline.json'], '{"version": 3}');
      assert.match(tree['42/Makefile'], /^all:\n\t\$\(CC\)/);
      assert.equal(Object.keys(cm.data).length, items.length);
    },
  },
  'tls-token': {
    file: 'tls-token.yaml',
    check(objs) {
      const sts = only(objs, 'StatefulSet');
      const pod = podOf(objs);
      const builder = container(pod, 'builder');
      const sidecar = container(pod, 'sidecar');
      none(objs, 'Secret');
      assert.equal(env(sidecar, 'LEADER_URL').value, 'https://binrelay-0.binrelay.ci.svc.cluster.local:8085');
      const tls = mount(sidecar, 'tls').mountPath;
      assert.equal(flag(sidecar.args, '--tls-cert'), `${tls}/tls.crt`);
      assert.equal(flag(sidecar.args, '--tls-key'), `${tls}/tls.key`);
      assert.equal(flag(sidecar.args, '--ca-file'), `${tls}/ca.crt`);
      assert.equal(volume(pod, 'tls').secret.secretName, 'binrelay-tls');
      assert.equal(volume(pod, 'token').secret.secretName, 'ci-upload-token');
      assert.equal(flag(sidecar.args, '--token-file'), '/etc/binrelay/token/upload-token');
      assert.equal(flag(builder.args, '--build-cmd'), 'make -C "$PIPELINE_SRC" OUT="$PIPELINE_OUT" CFLAGS=-O2');
      assert.equal(flag(builder.args, '--jobs'), '4');
      assert.equal(flag(sidecar.args, '--upload-retries'), '20');
      assert.equal(flag(sidecar.args, '--upload-retry-delay-ms'), '250');
      // Large numbers stay integers, not 2.147483648e+09.
      assert.equal(flag(sidecar.args, '--max-binary-bytes'), '2147483648');
      assert.equal(sidecar.readinessProbe.httpGet.path, '/healthz?check_storage=true');
      assert.equal(pod.terminationGracePeriodSeconds, 1260);
      const claim = sts.spec.volumeClaimTemplates[0].spec;
      assert.equal(claim.resources.requests.storage, '100Gi');
      assert.equal(claim.storageClassName, 'fast-ssd');
    },
  },
  'no-auth': {
    file: 'no-auth.yaml',
    check(objs) {
      const pod = podOf(objs);
      none(objs, 'Secret');
      assert.ok(container(pod, 'sidecar').args.includes('--insecure-no-auth'));
      assert.equal(pod.volumes.find((v) => v.name === 'token'), undefined);
    },
  },
};

for (const [name, c] of Object.entries(cases)) {
  describe(name, () => {
    const objs = render(c.file);
    test('lint', () => {
      const args = ['lint', '--strict', CHART];
      if (c.file) args.push('-f', join(VALUES, c.file));
      const r = helm(...args);
      assert.equal(r.status, 0, r.stdout + r.stderr);
    });
    for (const [check, fn] of Object.entries(everyCase)) test(check, () => fn(objs));
    test('specific values', () => c.check(objs));
  });
}

test('every value set under tests/helm/values is a case', () => {
  const files = readdirSync(VALUES).filter((f) => f.endsWith('.yaml'));
  assert.deepEqual(files.sort(), Object.values(cases).map((c) => c.file).filter(Boolean).sort());
});

test('replicas given with --set, as in the guide', () => {
  const objs = render(null, '--set', 'parallelCompilation.enabled=true', '--set', 'parallelCompilation.replicas=5');
  assert.equal(only(objs, 'StatefulSet').spec.replicas, 5);
});

test('a release name without "binrelay" prefixes the objects', () => {
  const r = helm('template', 'ci-fleet', CHART, '--namespace', NS);
  const objs = parseObjects(r.stdout);
  const sts = only(objs, 'StatefulSet');
  assert.equal(sts.metadata.name, 'ci-fleet-binrelay');
  assert.deepEqual(only(objs, 'Role').rules[0].resourceNames, ['ci-fleet-binrelay']);
  assert.equal(env(container(podOf(objs), 'sidecar'), 'LEADER_URL').value,
               'http://ci-fleet-binrelay-0.ci-fleet-binrelay.ci.svc.cluster.local:8085');
});

describe('refused value sets', () => {
  const refused = {
    'git-sync-no-repo.yaml': /pipelines\.gitSync\.repo is required/,
    'claim-no-name.yaml': /pipelines\.existingClaim\.name is required/,
    'configmap-no-items.yaml': /pipelines\.configMap\.items is required/,
    'configmap-escape.yaml': /must be a relative path inside the pipelines tree/,
    'replicas-typo.yaml': /Additional property replica is not allowed/,
    'unknown-source.yaml': /pipelines\.source must be one of/,
    'zero-replicas.yaml': /replicas: Must be greater than or equal to 1/,
  };
  test('each file has its expected message', () => {
    assert.deepEqual(readdirSync(join(VALUES, 'invalid')).sort(), Object.keys(refused).sort());
  });
  for (const [file, message] of Object.entries(refused)) {
    test(file, () => {
      const r = helm('template', RELEASE, CHART, '-f', join(VALUES, 'invalid', file));
      assert.notEqual(r.status, 0, 'rendered although it should not');
      assert.match(r.stderr, message);
    });
  }
});

test('the image runs as the uid the chart names', () => {
  const dockerfile = readFileSync('k8s/Dockerfile', 'utf8');
  const values = parseObjects(readFileSync(`${CHART}/values.yaml`, 'utf8'))[0];
  const users = [...dockerfile.matchAll(/^USER\s+(\d+):(\d+)\s*$/gm)];
  assert.equal(users.length, 1, 'one numeric USER uid:gid');
  assert.equal(Number(users[0][1]), values.podSecurityContext.runAsUser);
  assert.equal(Number(users[0][2]), values.podSecurityContext.runAsGroup);
  assert.deepEqual([...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]), ['debian:12', 'debian:12']);
  for (const bin of ['builder', 'sidecar'])
    assert.match(dockerfile, new RegExp(`install .*bin/${bin} /out/usr/local/bin/${bin}`));
});

test('README.md has a row for every value, and no other', () => {
  const doc = readFileSync('README.md', 'utf8');
  const rows = new Set([...doc.matchAll(/^\| `([A-Za-z][\w.]*)` \|/gm)].map((m) => m[1]));
  const values = parseObjects(readFileSync(`${CHART}/values.yaml`, 'utf8'))[0];
  // Feldera's optional keys, present in values.yaml only as comments.
  const commented = ['endpoint', 'serverSideEncryption', 'existingSecret']
    .map((k) => `parallelCompilation.sccache.s3.${k}`);
  const leaves = [...commented];
  (function walk(obj, path) {
    for (const [k, v] of Object.entries(obj)) {
      const p = path ? `${path}.${k}` : k;
      if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length) walk(v, p);
      else leaves.push(p);
    }
  })(values, '');
  // A row for a map (builder.resources) covers the keys under it.
  const covered = (p) => p.split('.').some((_, i, parts) => rows.has(parts.slice(0, i + 1).join('.')));
  assert.deepEqual(leaves.filter((p) => !covered(p)), []);
  // Rows of the sccache variable table name values too; all must exist.
  const known = (r) => leaves.some((p) => p === r || p.startsWith(`${r}.`));
  assert.deepEqual([...rows].filter((r) => !known(r)), []);
});
