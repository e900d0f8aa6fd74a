package denied

import (
	"errors"
	"fmt"
	"testing"
)

func TestWrapAndOf(t *testing.T) {
	base := errors.New("HTTP 403")
	if Wrap(nil, Need{}) != nil {
		t.Fatal("Wrap(nil) must stay nil")
	}
	inner := Need{Service: "Secret Manager", Permission: "secretmanager.versions.add", Resource: "projects/p/secrets/s"}
	outer := Need{Service: "Secret Manager", Permission: "secretmanager.secrets.create", Resource: "projects/p"}
	err := fmt.Errorf("creating: %w", Wrap(fmt.Errorf("adding: %w", Wrap(base, inner)), outer))
	got, ok := Of(err)
	if !ok || got.Permission != inner.Permission {
		t.Fatalf("Of = %+v, %v; want the innermost need", got, ok)
	}
	if !errors.Is(err, base) || err.Error() != "creating: adding: HTTP 403" {
		t.Fatalf("the message or the chain changed: %v", err)
	}
	if _, ok := Of(base); ok {
		t.Fatal("a plain error has no need")
	}
	n := Need{Service: "AWS Secrets Manager", Permission: "secretsmanager:PutSecretValue", Resource: "arn:s",
		Also: []Need{{Service: "AWS KMS", Permission: "kms:GenerateDataKey", Resource: "arn:k"}}}
	if want := "AWS Secrets Manager needs secretsmanager:PutSecretValue on arn:s, and AWS KMS kms:GenerateDataKey on arn:k"; n.String() != want {
		t.Fatalf("String = %q, want %q", n.String(), want)
	}
}

func TestFromAWSMessage(t *testing.T) {
	msg := "api error AccessDenied: User: arn:aws:iam::123456789012:user/tf is not authorized to perform: iam:CreateRole " +
		"on resource: arn:aws:iam::123456789012:role/airflow-analytics because no identity-based policy allows the iam:CreateRole action"
	n, ok := FromAWSMessage(msg)
	if !ok || n.String() != "AWS IAM needs iam:CreateRole on arn:aws:iam::123456789012:role/airflow-analytics" {
		t.Fatalf("FromAWSMessage = %+v, %v", n, ok)
	}
	if _, ok := FromAWSMessage("AccessDenied: Access to KMS is not allowed"); ok {
		t.Fatal("a message without the action must give nothing")
	}
}
