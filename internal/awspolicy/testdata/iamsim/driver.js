// Differential-test driver: judges web-identity requests against IAM trust
// policies with @cloud-copilot/iam-simulate, an independent simulator that is
// installed into the test cache by `scripts/testenv.sh iamsim` and never
// shipped with the provider.
//
// Usage: IAMSIM_DIR=<dir holding node_modules> node driver.js < cases.json
//
// stdin: a JSON array of cases, each
//   {"policy": <trust policy object>, "context": {"key": "v" | ["v", ...]},
//    "resource": "arn:aws:iam::ACCOUNT:role/NAME",
//    "principal": "accounts.google.com", "action": "sts:AssumeRoleWithWebIdentity"}
// stdout: a JSON array, one entry per case, in order:
//   {"result": "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied" | "",
//    "overall": <overall result>, "ignored": [context keys the simulator dropped],
//    "error": "<message when the simulator refused the case>"}
'use strict'

const path = require('path')

const dir = process.env.IAMSIM_DIR
if (!dir) {
  console.error('IAMSIM_DIR is not set')
  process.exit(2)
}
const { runSimulation } = require(require.resolve('@cloud-copilot/iam-simulate', { paths: [path.resolve(dir)] }))

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = []
    process.stdin.on('data', (c) => chunks.push(c))
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    process.stdin.on('error', reject)
  })
}

async function judge(c) {
  const resource = c.resource || 'arn:aws:iam::123456789012:role/airflow'
  const account = resource.split(':')[4] || '123456789012'
  const simulation = {
    request: {
      principal: c.principal || 'accounts.google.com',
      action: c.action || 'sts:AssumeRoleWithWebIdentity',
      resource: { resource, accountId: account },
      contextVariables: c.context || {}
    },
    identityPolicies: [],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: c.policy
  }
  try {
    const res = await runSimulation(simulation, {})
    if (res.resultType === 'error') {
      return { result: '', error: res.errors.message + ' ' + JSON.stringify(res.errors) }
    }
    const single = res.resultType === 'single' ? res.result : (res.results || [])[0]
    const analysis = single && single.analysis
    const ra = analysis && analysis.resourceAnalysis
    return {
      result: ra ? ra.result : '',
      overall: res.overallResult,
      ignored: (single && single.ignoredContextKeys) || []
    }
  } catch (e) {
    return { result: '', error: String((e && e.stack) || e) }
  }
}

async function main() {
  const cases = JSON.parse(await readStdin())
  const out = []
  for (const c of cases) {
    out.push(await judge(c))
  }
  process.stdout.write(JSON.stringify(out))
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
