// Package awspolicy holds the IAM policy document model and what the
// provider does with trust policies: parsing documents as IAM accepts them
// (plain or URL-encoded JSON), building the trust policy for a Google
// service account, rendering documents canonically and comparing them, and
// evaluating a web-identity request against a trust policy with an
// explanation of the verdict. It calls no AWS API and knows nothing of
// Terraform.
package awspolicy

// Names used in trust policies for Google web-identity federation.
const (
	// GoogleFederatedPrincipal is the Federated principal for Google ID tokens.
	GoogleFederatedPrincipal = "accounts.google.com"
	// ActionAssumeRoleWithWebIdentity is the action a web-identity exchange asks for.
	ActionAssumeRoleWithWebIdentity = "sts:AssumeRoleWithWebIdentity"
	// KeyGoogleAud is compared with the token's azp claim when it has one
	// (the service account's numeric unique ID for tokens minted by the
	// metadata server or the IAM Credentials API, its email for tokens minted
	// from a key file), and with the aud claim otherwise.
	KeyGoogleAud = "accounts.google.com:aud"
	// KeyGoogleOaud is compared with the token's aud claim (the audience)
	// when the token has an azp claim.
	KeyGoogleOaud = "accounts.google.com:oaud"
	// KeyGoogleSub is compared with the token's sub claim (the service
	// account's numeric unique ID).
	KeyGoogleSub = "accounts.google.com:sub"
)

// Policy language versions IAM accepts.
const (
	versionCurrent = "2012-10-17"
	versionLegacy  = "2008-10-17"
)

// Document is a parsed IAM policy (trust or permissions).
//
// A top-level Id element is accepted by Parse but not kept.
type Document struct {
	Version    string
	Statements []Statement
}

// Statement is one statement of a policy. Every element that IAM allows as a
// single string or a list is held as a list.
type Statement struct {
	Sid          string
	Effect       string
	Principal    map[string][]string // "*" is stored as {"*": ["*"]}
	NotPrincipal map[string][]string
	Action       []string
	NotAction    []string
	Resource     []string
	NotResource  []string
	Condition    map[string]map[string][]string // operator -> key -> values
}

// GoogleTrust builds the trust policy for a Google service account:
// one Allow statement for the Federated principal accounts.google.com and
// sts:AssumeRoleWithWebIdentity, with StringEquals conditions on
// accounts.google.com:aud (both the unique ID and the email, so tokens from
// the metadata server or IAM Credentials API and tokens minted from a key
// file both work), accounts.google.com:sub (the unique ID) and
// accounts.google.com:oaud (the audience).
func GoogleTrust(uniqueID, email, audience string) *Document {
	aud := []string{uniqueID}
	if email != "" && email != uniqueID {
		aud = append(aud, email)
	}
	return &Document{
		Version: versionCurrent,
		Statements: []Statement{{
			Effect:    "Allow",
			Principal: map[string][]string{"Federated": {GoogleFederatedPrincipal}},
			Action:    []string{ActionAssumeRoleWithWebIdentity},
			Condition: map[string]map[string][]string{
				"StringEquals": {
					KeyGoogleAud:  aud,
					KeyGoogleSub:  {uniqueID},
					KeyGoogleOaud: {audience},
				},
			},
		}},
	}
}
