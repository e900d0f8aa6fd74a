// Package denied names what a cloud call needed, so that a refusal can say
// which service, which permission and on what resource: "Secret Manager
// needs secretmanager.versions.add on projects/p/secrets/s". The API
// packages wrap each call's error with the permission the service's own
// reference names for it; the provider turns it into the hint of a
// diagnostic when the service answers "permission denied".
//
// The permission names come from the services' references:
//   - Secret Manager: https://cloud.google.com/secret-manager/docs/access-control
//   - IAM and IAM Credentials: https://cloud.google.com/iam/docs/service-account-permissions
//     and https://cloud.google.com/iam/docs/permissions-reference
//   - Cloud Resource Manager: https://cloud.google.com/resource-manager/docs/access-control-proj
//   - AWS Secrets Manager: https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecretsmanager.html
//   - AWS KMS: https://docs.aws.amazon.com/service-authorization/latest/reference/list_awskeymanagementservice.html,
//     and for what Secrets Manager asks of a customer managed key,
//     https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html
package denied

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Need is what one call needs: the service, its permission (or IAM action)
// and the resource it is needed on. Also lists permissions the call needs
// besides, such as the KMS permissions behind an encrypted write.
type Need struct {
	Service, Permission, Resource string
	Also                          []Need
}

// String is the need in words.
func (n Need) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s needs %s on %s", n.Service, n.Permission, n.Resource)
	for _, a := range n.Also {
		fmt.Fprintf(&b, ", and %s %s on %s", a.Service, a.Permission, a.Resource)
	}
	return b.String()
}

// Error is a call's error with what the call needed. Its message is the
// call's own; Need is for hints.
type Error struct {
	Need Need
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// Wrap attaches n to err; nil stays nil.
func Wrap(err error, n Need) error {
	if err == nil {
		return nil
	}
	return &Error{Need: n, Err: err}
}

// Of is the need err carries, the innermost when there are several.
func Of(err error) (Need, bool) {
	var found *Error
	for err != nil {
		var e *Error
		if !errors.As(err, &e) {
			break
		}
		found = e
		err = e.Err
	}
	if found == nil {
		return Need{}, false
	}
	return found.Need, true
}

// awsRefusal is the form of AWS's AccessDenied messages: "User: ARN is not
// authorized to perform: ACTION on resource: RESOURCE" (optionally followed
// by why), as https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
// shows them.
var awsRefusal = regexp.MustCompile(`not authorized to perform: ([a-zA-Z0-9-]+:[a-zA-Z0-9*]+) on resource: (\S+)`)

// FromAWSMessage reads the refused action and resource out of an AWS
// AccessDenied message, for calls that carry no need of their own.
func FromAWSMessage(msg string) (Need, bool) {
	m := awsRefusal.FindStringSubmatch(msg)
	if m == nil {
		return Need{}, false
	}
	service, _, _ := strings.Cut(m[1], ":")
	names := map[string]string{"iam": "AWS IAM", "sts": "AWS STS", "secretsmanager": "AWS Secrets Manager", "kms": "AWS KMS"}
	name, ok := names[service]
	if !ok {
		name = "AWS " + service
	}
	return Need{Service: name, Permission: m[1], Resource: strings.TrimRight(m[2], ".,;")}, true
}
