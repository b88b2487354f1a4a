// k8s_api_server.js - stands in for the Kubernetes API server in tests.
//
// Serves GET /apis/apps/v1/namespaces/NS/statefulsets/NAME over HTTPS,
// as the real API server does for a pod's service account: a bad or
// missing bearer token is 401 with a Status object, an unknown
// namespace or name is 404, otherwise the StatefulSet with
// spec.replicas read from --replicas-file on every request, so that a
// test can scale it mid-run.  While --fail-file exists every request
// is 503, a transient outage.
//
// node k8s_api_server.js --port P --cert F --key F --token T \
//     --namespace NS --name NAME --replicas-file F [--fail-file F]
'use strict';
const fs = require('fs');
const https = require('https');

const opt = {};
for (let i = 2; i < process.argv.length; i += 2)
    opt[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];

function status(res, code, reason, message) {
    res.writeHead(code, {'Content-Type': 'application/json'});
    res.end(JSON.stringify({
        kind: 'Status', apiVersion: 'v1', metadata: {},
        status: 'Failure', message: message, reason: reason, code: code,
    }));
}

function statefulset(res) {
    const replicas = parseInt(fs.readFileSync(opt['replicas-file'], 'utf8'));
    res.writeHead(200, {'Content-Type': 'application/json'});
    res.end(JSON.stringify({
        kind: 'StatefulSet', apiVersion: 'apps/v1',
        metadata: {name: opt.name, namespace: opt.namespace},
        spec: {replicas: replicas, serviceName: opt.name},
        status: {replicas: replicas},
    }));
}

const want = `/apis/apps/v1/namespaces/${opt.namespace}/statefulsets/` +
    opt.name;
const server = https.createServer({
    cert: fs.readFileSync(opt.cert),
    key: fs.readFileSync(opt.key),
}, (req, res) => {
    console.log(`${req.method} ${req.url}`);
    if (opt['fail-file'] && fs.existsSync(opt['fail-file']))
        return status(res, 503, 'ServiceUnavailable', 'try again later');
    if (req.headers.authorization !== `Bearer ${opt.token}`)
        return status(res, 401, 'Unauthorized', 'Unauthorized');
    if (req.method !== 'GET' || req.url !== want)
        return status(res, 404, 'NotFound',
            `statefulsets.apps "${req.url.split('/').pop()}" not found`);
    statefulset(res);
});
server.listen(parseInt(opt.port), '127.0.0.1', () => {
    console.log(`listening on ${opt.port}`);
});
