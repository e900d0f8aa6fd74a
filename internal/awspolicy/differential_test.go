package awspolicy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// The differential test holds Evaluate against @cloud-copilot/iam-simulate,
// an independent IAM simulator (AGPL-3.0). It is a test-time tool:
// `scripts/testenv.sh iamsim` (run by `make testenv`) installs it into the
// cache, testdata/iamsim/driver.js calls it, and nothing of it is vendored,
// copied or linked into the provider.

// diffKnown lists the disagreements the test accepts: where the simulator
// departs from AWS's documentation, the page that settles it. A case
// tagged with one of these features may disagree; any other disagreement
// fails the test.
var diffKnown = map[string]struct{ url, why string }{
	"epoch": {
		url: "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Date",
		why: "Date operators take epoch (UNIX) time, in seconds (aws:EpochTime is seconds too: " +
			"https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-epochtime); " +
			"the simulator reads epoch values as milliseconds",
	},
	"variables-2008": {
		url: "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html",
		why: "policy variables need Version 2012-10-17; in a 2008-10-17 policy ${...} is literal text, but the simulator substitutes it",
	},
	"foranyvalue-ifexists": {
		url: "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_IfExists",
		why: "an ...IfExists condition on a key the request lacks is true; the simulator ignores IfExists after ForAnyValue " +
			"(the set-operator page says ForAnyValue on a missing key is false without mentioning IfExists)",
	},
}

const (
	diffUID      = "104876543210987654321"
	diffOtherUID = "109999999999999999999"
	diffEmail    = "airflow-worker@data-platform-prod.iam.gserviceaccount.com"
	diffAudience = "airflow-prod-aws"
	diffRoleARN  = "arn:aws:iam::123456789012:role/airflow"
)

type diffCase struct {
	policy   string
	context  map[string][]string
	complete bool
	tags     map[string]bool
}

// diffDriverCase is what driver.js reads.
type diffDriverCase struct {
	Policy   json.RawMessage `json:"policy"`
	Context  map[string]any  `json:"context"`
	Resource string          `json:"resource"`
}

type diffDriverResult struct {
	Result  string   `json:"result"`
	Overall string   `json:"overall"`
	Ignored []string `json:"ignored"`
	Error   string   `json:"error"`
}

// iamsimDir is where scripts/testenv.sh installs the simulator.
func iamsimDir() string {
	cache := os.Getenv("AIRFLOWIAM_CACHE_DIR")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, _ := os.UserHomeDir()
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "terraform-provider-airflowiam")
	}
	return filepath.Join(cache, "iam-simulate")
}

func TestDifferentialIAMSimulate(t *testing.T) {
	dir := iamsimDir()
	node, nodeErr := exec.LookPath("node")
	_, pkgErr := os.Stat(filepath.Join(dir, "node_modules", "@cloud-copilot", "iam-simulate", "package.json"))
	if nodeErr != nil || pkgErr != nil {
		msg := fmt.Sprintf("@cloud-copilot/iam-simulate is not installed in %s (or node is not on PATH): run scripts/testenv.sh iamsim", dir)
		if os.Getenv("TF_ACC") != "" || os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}

	cases := diffCases(2400)
	in := make([]diffDriverCase, len(cases))
	for i, c := range cases {
		ctx := make(map[string]any, len(c.context))
		for k, v := range c.context {
			if multivaluedKeys[strings.ToLower(k)] {
				ctx[k] = v
			} else {
				ctx[k] = v[0]
			}
		}
		in[i] = diffDriverCase{Policy: json.RawMessage(c.policy), Context: ctx, Resource: diffRoleARN}
	}
	input, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", "iamsim", "driver.js"))
	cmd.Env = append(os.Environ(), "IAMSIM_DIR="+dir)
	cmd.Stdin = bytes.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("driver: %v\n%s", err, stderr.String())
	}
	var results []diffDriverResult
	if err := json.Unmarshal(out, &results); err != nil || len(results) != len(cases) {
		t.Fatalf("driver output: %v (%d results for %d cases)", err, len(results), len(cases))
	}
	t.Logf("simulator judged %d cases in %s", len(cases), time.Since(start).Round(time.Millisecond))

	var compared, agreed, unknown, denyUnjudged int
	covered := map[string]int{} // operator forms in compared cases
	known := map[string]int{}
	verdicts := map[string]int{}
	for i, c := range cases {
		p, err := Parse(c.policy)
		if err != nil {
			t.Fatalf("case %d: Parse: %v\n%s", i, err, c.policy)
		}
		d := Evaluate(p, WebIdentityRequest{Provider: GoogleFederatedPrincipal, Action: ActionAssumeRoleWithWebIdentity,
			Context: c.context, ContextComplete: c.complete})
		if d.Verdict == VerdictUnknown {
			unknown++
			continue
		}
		sim := results[i]
		if sim.Error != "" {
			t.Errorf("case %d: the simulator refused it: %s\npolicy %s\ncontext %v", i, sim.Error, c.policy, c.context)
			continue
		}
		compared++
		for op := range diffOperatorsIn(p) {
			covered[op]++
		}
		ours := diffVerdict(d)
		verdicts[ours]++
		if ours == sim.Result {
			agreed++
			continue
		}
		if ours == "ImplicitlyDenied" && sim.Result == "ExplicitlyDenied" && len(d.Unjudged) > 0 {
			// Both deny. No Allow matched, so the evaluator left the Deny
			// statements it cannot judge undecided: whether the deny is
			// explicit does not change the verdict.
			agreed++
			denyUnjudged++
			continue
		}
		var tags []string
		for _, tag := range slices.Sorted(maps.Keys(c.tags)) {
			if _, ok := diffKnown[tag]; ok {
				tags = append(tags, tag)
			}
		}
		listed := strings.Join(tags, "+")
		if listed != "" {
			known[listed]++
			t.Logf("case %d, listed disagreement %q: evaluator %s, simulator %s\n  policy  %s\n  context %v",
				i, listed, ours, sim.Result, c.policy, c.context)
			continue
		}
		t.Errorf("case %d: evaluator %s, simulator %s\npolicy  %s\ncontext %v (complete %v)\n%s",
			i, ours, sim.Result, c.policy, c.context, c.complete, d.Explain())
	}
	t.Logf("pairs: %d generated, %d compared (%d agree, of which %d deny with a Deny the evaluator did not need to judge), "+
		"%d not judged by the evaluator (Unknown; STS decides), evaluator verdicts %v",
		len(cases), compared, agreed, denyUnjudged, unknown, verdicts)
	for _, tags := range slices.Sorted(maps.Keys(known)) {
		t.Logf("listed disagreement %q: %d cases", tags, known[tags])
	}
	for _, tag := range slices.Sorted(maps.Keys(diffKnown)) {
		t.Logf("  %s: %s (%s)", tag, diffKnown[tag].why, diffKnown[tag].url)
	}
	for base := range operators {
		if covered[base] == 0 {
			t.Errorf("no compared case uses %s", base)
		}
	}
	for _, form := range []string{"IfExists", "ForAnyValue:", "ForAllValues:"} {
		if covered[form] == 0 {
			t.Errorf("no compared case uses %s", form)
		}
	}
	t.Logf("compared cases per operator form: %v", covered)
	if compared < 2000 {
		t.Errorf("only %d pairs compared, want at least 2000", compared)
	}
}

func diffVerdict(d Decision) string {
	switch {
	case d.Allowed:
		return "Allowed"
	case d.Statement >= 0:
		return "ExplicitlyDenied"
	default:
		return "ImplicitlyDenied"
	}
}

// diffGen builds cases from a fixed seed, so every run judges the same
// pairs.
type diffGen struct {
	r    *rand.Rand
	tags map[string]bool
	ctx  map[string][]string
}

func (g *diffGen) pick(list ...string) string { return list[g.r.IntN(len(list))] }
func (g *diffGen) chance(p float64) bool      { return g.r.Float64() < p }

func diffCases(n int) []diffCase {
	g := &diffGen{r: rand.New(rand.NewPCG(20261201, 17))}
	cases := make([]diffCase, 0, n)
	for len(cases) < n {
		g.tags = map[string]bool{}
		g.ctx = g.context()
		version := "2012-10-17"
		if g.chance(0.1) {
			version = "2008-10-17"
		}
		nst := 1 + g.r.IntN(3)
		var stmts []string
		for i := range nst {
			stmts = append(stmts, g.statement(i))
		}
		policy := fmt.Sprintf(`{"Version":%q,"Statement":[%s]}`, version, strings.Join(stmts, ","))
		// Tag the features on which the simulator departs from AWS's
		// documentation (see diffKnown).
		if version != "2012-10-17" && strings.Contains(policy, "${") {
			g.tags["variables-2008"] = true
		}
		if strings.Contains(policy, `"1764547200"`) || strings.Contains(policy, `"1556000000"`) ||
			(len(g.ctx["aws:EpochTime"]) > 0 && strings.Contains(policy, `"aws:EpochTime"`)) {
			g.tags["epoch"] = true
		}
		if diffForAnyIfExists.MatchString(policy) {
			g.tags["foranyvalue-ifexists"] = true
		}
		cases = append(cases, diffCase{policy: policy, context: g.ctx, complete: g.chance(0.5), tags: g.tags})
	}
	return cases
}

// context is the request: the token's keys as AWS derives them, and some
// global keys supplied.
func (g *diffGen) context() map[string][]string {
	ctx := map[string][]string{}
	azp := g.pick(diffUID, diffUID, diffEmail, diffOtherUID)
	aud := g.pick(diffAudience, diffAudience, "airflow-staging-aws", "AIRFLOW-PROD-AWS")
	sub := diffUID
	if azp == diffOtherUID {
		sub = diffOtherUID
	}
	if g.chance(0.1) { // a token without azp: aud goes to :aud, no :oaud
		ctx[KeyGoogleAud] = []string{aud}
	} else {
		ctx[KeyGoogleAud] = []string{azp}
		ctx[KeyGoogleOaud] = []string{aud}
	}
	ctx[KeyGoogleSub] = []string{sub}
	if g.chance(0.3) {
		ctx["aws:SourceIp"] = []string{g.pick("10.1.2.3", "203.0.113.7", "198.51.100.20", "2001:db8::5")}
	}
	if g.chance(0.35) {
		ctx["aws:CurrentTime"] = []string{g.pick("2026-12-01T00:00:00Z", "2026-06-01T12:00:00Z", "2019-05-05T05:05:05Z")}
	}
	if g.chance(0.1) {
		ctx["aws:EpochTime"] = []string{g.pick("1764547200", "1556000000")}
	}
	if g.chance(0.3) {
		ctx["aws:SecureTransport"] = []string{g.pick("true", "false")}
	}
	if g.chance(0.3) {
		ctx["aws:MultiFactorAuthAge"] = []string{g.pick("5", "3600", "10")}
	}
	if g.chance(0.3) {
		ctx["aws:PrincipalArn"] = []string{g.pick("arn:aws:iam::123456789012:role/airflow-x", "arn:aws:iam::210987654321:role/etl")}
	}
	if g.chance(0.35) {
		n := 1 + g.r.IntN(3)
		tags := []string{"team", "env", "cost", "Team"}
		g.r.Shuffle(len(tags), func(i, j int) { tags[i], tags[j] = tags[j], tags[i] })
		ctx["aws:TagKeys"] = tags[:n]
	}
	if g.chance(0.3) {
		ctx["aws:RequestTag/team"] = []string{g.pick("data", "Data", "ZGF0YQ==", diffUID)}
	}
	if g.chance(0.2) {
		ctx["accounts.google.com:google/organization_number"] = []string{g.pick("123456789", "42")}
	}
	return ctx
}

func (g *diffGen) statement(i int) string {
	effect := "Allow"
	if i > 0 && g.chance(0.3) || g.chance(0.05) {
		effect = "Deny"
	}
	var parts []string
	parts = append(parts, fmt.Sprintf(`"Effect":%q`, effect))
	if g.chance(0.3) {
		parts = append(parts, fmt.Sprintf(`"Sid":"S%d"`, i))
	}
	if effect == "Deny" && g.chance(0.2) {
		parts = append(parts, `"NotPrincipal":`+g.pick(`{"Federated":"cognito-identity.amazonaws.com"}`, `{"Federated":"accounts.google.com"}`))
	} else {
		parts = append(parts, `"Principal":`+g.pick(
			`{"Federated":"accounts.google.com"}`, `{"Federated":"accounts.google.com"}`, `{"Federated":"accounts.google.com"}`,
			`{"Federated":["cognito-identity.amazonaws.com","accounts.google.com"]}`,
			`{"Federated":"cognito-identity.amazonaws.com"}`,
			`"*"`, `{"AWS":"*"}`, `{"AWS":"arn:aws:iam::123456789012:root"}`))
	}
	if g.chance(0.15) {
		parts = append(parts, `"NotAction":`+g.pick(`"sts:AssumeRole"`, `"sts:*"`, `["sts:TagSession","sts:AssumeRoleWithSAML"]`))
	} else {
		parts = append(parts, `"Action":`+g.pick(
			`"sts:AssumeRoleWithWebIdentity"`, `"sts:AssumeRoleWithWebIdentity"`, `"sts:AssumeRoleWithWebIdentity"`,
			`"sts:*"`, `"sts:AssumeRole*"`, `"*"`, `"STS:assumerolewithwebidentity"`, `"sts:AssumeRoleWith?ebIdentity"`,
			`["sts:TagSession","sts:AssumeRoleWithWebIdentity"]`, `"sts:AssumeRole"`))
	}
	if nops := g.r.IntN(4); nops > 0 {
		ops := map[string][]string{}
		for range nops {
			op, key, vals := g.condition()
			if _, dup := ops[op]; dup {
				continue
			}
			var kv []string
			kv = append(kv, fmt.Sprintf("%q:%s", key, diffJSONList(vals)))
			if g.chance(0.25) { // a second key under the same operator
				key2, vals2 := g.conditionFor(op)
				if key2 != "" && !strings.EqualFold(key2, key) {
					kv = append(kv, fmt.Sprintf("%q:%s", key2, diffJSONList(vals2)))
				}
			}
			ops[op] = kv
		}
		var conds []string
		for _, op := range slices.Sorted(maps.Keys(ops)) {
			conds = append(conds, fmt.Sprintf("%q:{%s}", op, strings.Join(ops[op], ",")))
		}
		parts = append(parts, `"Condition":{`+strings.Join(conds, ",")+`}`)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

var diffForAnyIfExists = regexp.MustCompile(`"ForAnyValue:[A-Za-z]+IfExists"`)

var diffBaseOperators = func() []string {
	ops := slices.Sorted(maps.Keys(operators))
	// More string cases: they are the ones trust policies use most.
	for range 3 {
		ops = append(ops, "StringEquals", "StringLike", "StringNotEquals", "StringEqualsIgnoreCase")
	}
	sort.Strings(ops)
	return ops
}()

// condition picks an operator with its qualifiers, a key and values.
func (g *diffGen) condition() (op, key string, vals []string) {
	if g.chance(0.03) {
		op = g.pick("StringEqualsFuzzy", "stringequals", "NullIfExists")
		return op, KeyGoogleSub, []string{diffUID}
	}
	base := diffBaseOperators[g.r.IntN(len(diffBaseOperators))]
	set := ""
	if operators[base].family == famString && g.chance(0.2) {
		set = g.pick("ForAnyValue:", "ForAllValues:")
	}
	ifExists := base != "Null" && g.chance(0.25)
	op = set + base
	if ifExists {
		op += "IfExists"
	}
	key, vals = g.conditionFor(op)
	return op, key, vals
}

// conditionFor picks a key and values fitting the operator.
func (g *diffGen) conditionFor(op string) (string, []string) {
	o := parseOperator(op)
	if !o.known {
		return KeyGoogleSub, []string{diffUID}
	}
	n := 1 + g.r.IntN(3)
	var key string
	var pool []string
	switch o.info.family {
	case famString:
		if o.set != "" {
			key = g.pick("aws:TagKeys", "aws:TagKeys", "aws:TagKeys", KeyGoogleSub)
			pool = []string{"team", "env", "cost", "t*", "TEAM", "*", diffUID}
			if key == "aws:TagKeys" && g.chance(0.2) {
				g.ctx["aws:TagKeys"] = []string{} // present but empty
			}
			break
		}
		key = g.pick(KeyGoogleAud, KeyGoogleOaud, KeyGoogleSub, KeyGoogleAud, KeyGoogleOaud, KeyGoogleSub,
			"aws:RequestTag/team", "accounts.google.com:hd", "Accounts.Google.Com:SUB")
		pool = []string{diffUID, diffEmail, diffAudience, diffOtherUID, "AIRFLOW-PROD-AWS", "airflow-*", "*-aws",
			"1048765432109876543??", "*@*", "*", "?", "data", "Data", "airflow-prod-aw?",
			"${accounts.google.com:sub}", "${accounts.google.com:aud}", "${accounts.google.com:hd, '" + diffUID + "'}",
			"${aws:RequestTag/team}", "airflow${*}", "${aws:TagKeys}", "${ accounts.google.com:oaud }", "x${$}y",
			"${accounts.google.com:hd,'" + diffUID + "'}", "1048${?}*", "${unclosed"}
	case famNumeric:
		key = g.pick("aws:MultiFactorAuthAge", "aws:MultiFactorAuthAge", "accounts.google.com:google/organization_number")
		pool = []string{"5", "3600", "10", "4.5", "123456789", "abc", "-1", "10.0", "42"}
	case famDate:
		key = g.pick("aws:CurrentTime", "aws:CurrentTime", "aws:CurrentTime", "aws:TokenIssueTime", "aws:EpochTime")
		pool = []string{"2026-12-01T00:00:00Z", "2020-01-01T00:00:00Z", "2030-01-01", "2026-12-01T02:00:00+02:00",
			"garbage", "2026-06-01T12:00:00Z", "2026-12-01T00:00:00.000Z"}
		if key == "aws:EpochTime" || g.chance(0.1) {
			pool = append(pool, "1764547200", "1556000000")
		}
	case famBool:
		key = g.pick("aws:SecureTransport", "aws:SecureTransport", "aws:ViaAWSService")
		pool = []string{"true", "false", "True", "FALSE", "yes", "${aws:RequestTag/team}"}
	case famBinary:
		key = "aws:RequestTag/team"
		pool = []string{"ZGF0YQ==", "data", "RGF0YQ==", "Data"}
	case famIP:
		key = "aws:SourceIp"
		pool = []string{"10.0.0.0/8", "203.0.113.0/24", "10.1.2.3", "2001:db8::/32", "192.0.2.0/24", "garbage", "198.51.100.20/32"}
	case famARN:
		key = g.pick("aws:PrincipalArn", "aws:PrincipalArn", "aws:SourceArn")
		pool = []string{"arn:aws:iam::123456789012:role/airflow-*", "arn:aws:iam::*:role/*", "arn:aws:iam::210987654321:role/*",
			"arn:aws:iam::123456789012:role/airflow-x", "garbage", "arn:aws:iam::123456789012:*", "arn:aws:iam::12345678901?:role/*",
			"arn:aws:iam::${aws:PrincipalAccount}:role/*"}
	case famNull:
		key = g.pick(KeyGoogleOaud, KeyGoogleSub, "accounts.google.com:hd", "aws:SourceIp", "aws:RequestTag/team",
			"aws:MultiFactorAuthAge", "accounts.google.com:google/organization_number")
		pool = []string{"true", "false"}
		n = 1
	}
	vals := make([]string, 0, n)
	for range n {
		v := g.pick(pool...)
		if !slices.Contains(vals, v) {
			vals = append(vals, v)
		}
	}
	return key, vals
}

func diffJSONList(vals []string) string {
	if len(vals) == 1 {
		return quoteJSON(vals[0])
	}
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = quoteJSON(v)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// diffOperatorsIn names the base operators and qualifiers a policy uses.
func diffOperatorsIn(p *Document) map[string]bool {
	out := map[string]bool{}
	for _, st := range p.Statements {
		for name := range st.Condition {
			o := parseOperator(name)
			out[o.base] = true
			if o.ifExists {
				out["IfExists"] = true
			}
			if o.set != "" {
				out[o.set+":"] = true
			}
		}
	}
	return out
}
