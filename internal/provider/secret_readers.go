package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/awssecrets"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpsecrets"
)

// This file holds the readers of a secret connection: who may read the one
// secret, granted on the secret itself. For Google, the members of the
// secret's unconditional roles/secretmanager.secretAccessor binding.
//
// readers is exclusive for that one binding and nothing else: a member added
// to it out of band shows in the next plan as a change that removes it, one
// removed shows as a change that adds it back. Conditional bindings and
// every other role on the secret are never touched. Unset, the resource
// leaves the secret's policy alone.

// gcpReaderMemberPattern matches the IAM members a secret can be shared
// with: an email member, a domain, a Workload Identity member, or a
// principal:// or principalSet:// identifier
// (https://cloud.google.com/iam/docs/principals-overview).
var gcpReaderMemberPattern = regexp.MustCompile(`^(` +
	`(serviceAccount|user|group):[^@\s:]+@[^@\s:]+\.[^@\s:]+` +
	`|serviceAccount:[a-z0-9.:-]+\.svc\.id\.goog\[[^/\]\s]+/[^/\]\s]+\]` +
	`|domain:[A-Za-z0-9.-]+\.[A-Za-z]+` +
	`|principal(Set)?://\S+` +
	`)$`)

// gcpReaderMemberForms names the accepted member forms, for messages.
const gcpReaderMemberForms = "an IAM member: serviceAccount:EMAIL, user:EMAIL, group:EMAIL, domain:DOMAIN, " +
	"serviceAccount:POOL_PROJECT.svc.id.goog[NAMESPACE/KSA], principal://... or principalSet://..."

// gcpReadersAttribute is the readers attribute of
// airflowiam_gcp_secret_connection.
func gcpReadersAttribute() schema.SetAttribute {
	return schema.SetAttribute{
		ElementType: types.StringType,
		Optional:    true,
		MarkdownDescription: "The IAM members that may read this connection, and only this one: each is granted `" +
			gcpsecrets.RoleSecretAccessor + "` on the secret itself, through the secret's IAM policy. Each is " +
			gcpReaderMemberForms + "; a bare email is refused, write `serviceAccount:EMAIL` (for example " +
			"`\"serviceAccount:${airflowiam_task_identity.a.google_service_account}\"`).\n\n" +
			"The set is exclusive for the secret's unconditional `" + gcpsecrets.RoleSecretAccessor + "` binding: a member " +
			"added to that binding out of band shows in the next plan and is removed by the apply; one removed is granted " +
			"again. Conditional bindings and other roles on the secret are kept as they are. Unset (the default), the " +
			"secret's IAM policy is left alone; `[]` keeps the binding empty. Grants on the project " +
			"(a project-wide `" + gcpsecrets.RoleSecretAccessor + "`) still let their members read every secret: " +
			"prove that they do not with the `airflowiam_connection_access` data source.\n\n" +
			"The provider's identity needs `secretmanager.secrets.getIamPolicy` and `setIamPolicy` on the secret " +
			"(`roles/secretmanager.admin`).",
		Validators: []validator.Set{setvalidator.ValueStringsAre(stringvalidator.RegexMatches(gcpReaderMemberPattern,
			"must be "+gcpReaderMemberForms))},
	}
}

// setStrings is a known set's elements; nil for a null set.
func setStrings(ctx context.Context, s types.Set) ([]string, error) {
	if s.IsNull() || s.IsUnknown() {
		return nil, nil
	}
	var out []string
	if diags := s.ElementsAs(ctx, &out, false); diags.HasError() {
		return nil, fmt.Errorf("reading readers: %v", diags)
	}
	return out, nil
}

// readersError explains a failure to read or edit a secret's policy.
func readersError(action, secret string, err error) error {
	if errors.Is(err, gcpsecrets.ErrNotFound) {
		return err
	}
	hint := ""
	if gcpiam.IsPermissionDenied(err) {
		hint = " (the provider's Google identity needs secretmanager.secrets.getIamPolicy and " +
			"secretmanager.secrets.setIamPolicy on the secret, for example through roles/secretmanager.admin)"
	}
	return fmt.Errorf("%s the readers of secret %s%s: %w", action, secret, hint, err)
}

// createReaders grants the configured readers on a secret just created.
// When that fails the secret is deleted again, so that nothing is left
// that Terraform does not know of.
func (s gcpSecretStore) createReaders(ctx context.Context, m *gcpSecretConnectionModel) error {
	if m.Readers.IsNull() {
		return nil
	}
	err := s.setReaders(ctx, m.SecretName.ValueString(), m.Readers)
	if err == nil {
		return nil
	}
	if derr := s.client.Delete(ctx, m.SecretName.ValueString()); derr != nil {
		return fmt.Errorf("%w (and deleting the secret again failed: %v)", err, derr)
	}
	return err
}

// setReaders makes the secret's accessor binding exactly readers.
func (s gcpSecretStore) setReaders(ctx context.Context, secretName string, readers types.Set) error {
	want, err := setStrings(ctx, readers)
	if err != nil {
		return err
	}
	tflog.Debug(ctx, "setting the readers of a secret", map[string]any{"secret": secretName, "readers": want})
	err = s.client.EditAccessors(ctx, secretName, func([]string) []string { return want })
	if err != nil {
		return readersError("setting", secretName, err)
	}
	return nil
}

// updateReaders applies a change of readers. Readers newly unset revoke
// what the prior state granted and leave every other member in place.
func (s gcpSecretStore) updateReaders(ctx context.Context, plan, prior *gcpSecretConnectionModel) error {
	if plan.Readers.Equal(prior.Readers) {
		return nil
	}
	name := prior.SecretName.ValueString()
	if !plan.Readers.IsNull() {
		return s.setReaders(ctx, name, plan.Readers)
	}
	granted, err := setStrings(ctx, prior.Readers)
	if err != nil {
		return err
	}
	err = s.client.EditAccessors(ctx, name, func(current []string) []string {
		return slices.DeleteFunc(slices.Clone(current), func(m string) bool { return containsMember(granted, m) })
	})
	if err != nil {
		return readersError("revoking", name, err)
	}
	return nil
}

// readReaders records in m the members of the secret's accessor binding,
// in their configured spelling where IAM holds the same member, when m
// manages readers.
func (s gcpSecretStore) readReaders(ctx context.Context, m *gcpSecretConnectionModel, secretName string) error {
	if m.Readers.IsNull() {
		return nil
	}
	configured, err := setStrings(ctx, m.Readers)
	if err != nil {
		return err
	}
	held, err := s.client.Accessors(ctx, secretName)
	if err != nil {
		return readersError("reading", secretName, err)
	}
	m.Readers = stringSet(spelledAs(held, configured))
	return nil
}

// containsMember says whether members holds m, compared as IAM compares
// members.
func containsMember(members []string, m string) bool {
	return slices.ContainsFunc(members, func(x string) bool { return gcpiam.SameMember(x, m) })
}

// spelledAs is held with each member written as in configured when IAM
// holds it under another spelling (Google lower-cases emails).
func spelledAs(held, configured []string) []string {
	out := make([]string, 0, len(held))
	for _, h := range held {
		spelling := h
		if i := slices.IndexFunc(configured, func(c string) bool { return gcpiam.SameMember(c, h) }); i >= 0 {
			spelling = configured[i]
		}
		if !slices.Contains(out, spelling) {
			out = append(out, spelling)
		}
	}
	return out
}

// stringSet is a known set of strings.
func stringSet(ss []string) types.Set {
	values := make([]attr.Value, len(ss))
	for i, s := range ss {
		values[i] = types.StringValue(s)
	}
	return types.SetValueMust(types.StringType, values)
}

// AWS: the secret's resource policy allows secretsmanager:GetSecretValue
// to readers and denies it to every other principal of the account but the
// administrators; with a customer-managed key each reader gets a KMS grant
// for kms:Decrypt under this secret's encryption context (awssecrets).
// Statements of the resource policy other than the two it owns are kept.

// awsReadersAttributes are the readers and administrators attributes of
// airflowiam_aws_secret_connection.
func awsReadersAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"readers": schema.SetAttribute{
			ElementType: types.StringType,
			Optional:    true,
			MarkdownDescription: "IAM role ARNs that may read this connection, and only this one (for example " +
				"`airflowiam_web_identity_role.x.arn`). The secret gets a resource policy that allows `" +
				awssecrets.ActionGetSecretValue + "` to them and denies it to every other principal of the secret's account " +
				"except `administrators`; with `kms_key_id` set, each reader also gets a KMS grant for `kms:Decrypt` on the key, " +
				"constrained to this secret's encryption context (`SecretARN`), so it decrypts this secret only; a reader that " +
				"leaves has its grant revoked. A grant cannot require Secrets Manager (`kms:ViaService`); the encryption " +
				"context is what ties it to this secret. With the AWS managed key `aws/secretsmanager`, no grant is made or " +
				"needed.\n\nA reader added to or removed from the policy out of band, or whose grant was revoked, shows in the " +
				"next plan. Statements of the resource policy other than the two this resource owns (Sids `" +
				awssecrets.ReadersSid + "` and `" + awssecrets.OthersDeniedSid + "`) are kept. Unset, the resource policy is " +
				"left alone.\n\n**Lock-out warning:** the deny applies to every principal of the account not listed, Terraform's " +
				"own identity included: list the role Terraform runs as in `administrators`, or it can no longer read the " +
				"secret (and so refresh this resource). A root user or an administrator can always delete the resource policy.\n\n" +
				"Prove who reads the connection with the `airflowiam_connection_access` data source (`role_arn`).",
			Validators: []validator.Set{setvalidator.ValueStringsAre(stringvalidator.RegexMatches(roleARNPattern,
				"must be an IAM role ARN, such as arn:aws:iam::123456789012:role/airflow-task"))},
		},
		"administrators": schema.SetAttribute{
			ElementType: types.StringType,
			Optional:    true,
			MarkdownDescription: "IAM principal ARNs (roles or users) of the secret's account that the resource policy's deny " +
				"spares, besides the readers: Terraform's own role and break-glass administrators. They still need their own " +
				"permissions to read. Requires `readers`.",
			Validators: []validator.Set{
				setvalidator.ValueStringsAre(stringvalidator.RegexMatches(awsPrincipalARNPattern, "must be an IAM role or user ARN")),
				setvalidator.AlsoRequires(path.MatchRoot("readers")),
			},
		},
	}
}

var _ secretConfigValidator[awsSecretConnectionModel] = awsSecretStore{}

var awsPrincipalARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+$`)

// awsReaders is the readers and administrators of m; nil when m manages
// none.
func awsReaders(ctx context.Context, m *awsSecretConnectionModel) (*awssecrets.Readers, error) {
	if m.Readers.IsNull() {
		return nil, nil
	}
	readers, err := setStrings(ctx, m.Readers)
	if err != nil {
		return nil, err
	}
	admins, err := setStrings(ctx, m.Administrators)
	if err != nil {
		return nil, err
	}
	return &awssecrets.Readers{Readers: readers, Administrators: admins}, nil
}

// grantedKey is the key that carries reader grants: a customer-managed one,
// or "" for the AWS managed key, which takes none.
func grantedKey(key types.String) string {
	if k := key.ValueString(); k != awssecrets.DefaultKMSKey {
		return k
	}
	return ""
}

// applyReaders writes r (nil: none) into the secret's resource policy and
// makes the grants on key match; key "" is the AWS managed key.
func (s awsSecretStore) applyReaders(ctx context.Context, arn, key string, r *awssecrets.Readers) error {
	if err := s.client.SetReaders(ctx, arn, r); err != nil {
		return err
	}
	if key == "" {
		return nil
	}
	keyARN, err := s.client.KeyARN(ctx, key)
	if err != nil {
		return err
	}
	var readers []string
	if r != nil {
		readers = r.Readers
	}
	return s.client.SyncGrants(ctx, keyARN, arn, readers)
}

// createReaders sets up the readers of a secret just created; when that
// fails the secret is deleted again.
func (s awsSecretStore) createReaders(ctx context.Context, m *awsSecretConnectionModel) error {
	r, err := awsReaders(ctx, m)
	if err != nil || r == nil {
		return err
	}
	arn := m.SecretARN.ValueString()
	if err := s.applyReaders(ctx, arn, grantedKey(m.KMSKeyID), r); err != nil {
		if derr := s.client.Delete(ctx, arn, 0); derr != nil {
			return fmt.Errorf("%w (and deleting the secret again failed: %v)", err, derr)
		}
		return err
	}
	return nil
}

// updateReaders applies a change of readers, administrators or key: the
// grants on a key that is no longer used are revoked.
func (s awsSecretStore) updateReaders(ctx context.Context, plan, prior *awsSecretConnectionModel) error {
	keyChanged := !plan.KMSKeyID.Equal(prior.KMSKeyID)
	if plan.Readers.Equal(prior.Readers) && plan.Administrators.Equal(prior.Administrators) && (!keyChanged || plan.Readers.IsNull()) {
		return nil
	}
	arn := prior.SecretARN.ValueString()
	if keyChanged && !prior.Readers.IsNull() && grantedKey(prior.KMSKeyID) != "" {
		if err := s.applyReaders(ctx, arn, grantedKey(prior.KMSKeyID), nil); err != nil {
			return err
		}
	}
	r, err := awsReaders(ctx, plan)
	if err != nil {
		return err
	}
	return s.applyReaders(ctx, arn, grantedKey(plan.KMSKeyID), r)
}

// deleteReaders revokes the grants of a secret about to be deleted: they
// are on the key, which outlives the secret.
func (s awsSecretStore) deleteReaders(ctx context.Context, m *awsSecretConnectionModel) error {
	if m.Readers.IsNull() || grantedKey(m.KMSKeyID) == "" {
		return nil
	}
	keyARN, err := s.client.KeyARN(ctx, grantedKey(m.KMSKeyID))
	if err != nil {
		return err
	}
	return s.client.SyncGrants(ctx, keyARN, m.SecretARN.ValueString(), nil)
}

// readReaders records the readers the resource policy names, less those
// of the state whose grant is gone when the key is customer-managed, and
// the administrators.
func (s awsSecretStore) readReaders(ctx context.Context, m *awsSecretConnectionModel) error {
	if m.Readers.IsNull() {
		return nil
	}
	arn := m.SecretARN.ValueString()
	r, err := s.client.ReadReaders(ctx, arn)
	if err != nil {
		return err
	}
	readers := r.Readers
	if grantedKey(m.KMSKeyID) != "" {
		keyARN, err := s.client.KeyARN(ctx, grantedKey(m.KMSKeyID))
		if err != nil {
			return err
		}
		grants, err := s.client.ReaderGrants(ctx, keyARN, arn)
		if err != nil {
			return err
		}
		// A reader of the state without its grant is missing (the plan
		// grants it again); one the policy names out of band stays, so that
		// the plan removes it.
		known, err := setStrings(ctx, m.Readers)
		if err != nil {
			return err
		}
		readers = slices.DeleteFunc(readers, func(reader string) bool {
			return slices.Contains(known, reader) && !slices.ContainsFunc(grants, func(g awssecrets.Grant) bool { return g.Grantee == reader })
		})
	}
	m.Readers = stringSet(readers)
	if !m.Administrators.IsNull() || len(r.Administrators) > 0 {
		m.Administrators = stringSet(r.Administrators)
	}
	return nil
}

// validateConfig warns when the resource policy's deny would spare no
// administrator: unless Terraform runs as one of the readers, it could no
// longer read the secret it manages.
func (awsSecretStore) validateConfig(_ context.Context, config *awsSecretConnectionModel) (diags diag.Diagnostics) {
	if config.Readers.IsNull() || config.Readers.IsUnknown() || config.Administrators.IsUnknown() {
		return nil
	}
	if len(config.Administrators.Elements()) == 0 {
		diags.AddAttributeWarning(path.Root("administrators"), "Terraform May Lock Itself Out",
			"With readers set, the secret's resource policy denies secretsmanager:GetSecretValue to every principal of its "+
				"account that is neither a reader nor an administrator, and no administrator is listed. Unless Terraform runs as "+
				"one of the readers, it can no longer read the secret, and refreshing this resource fails. List the role "+
				"Terraform runs as in administrators.")
	}
	return diags
}
