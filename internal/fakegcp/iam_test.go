package fakegcp

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	iam "google.golang.org/api/iam/v1"
)

var ctx = context.Background()

func TestGetServiceAccount(t *testing.T) {
	s := newSeeded(t, []string{"worker-sa"})
	svc := iamClient(t, s, s.AccessTokenFor(admin))
	email := saEmail("worker-sa")

	byEmail, err := svc.Projects.ServiceAccounts.Get(saName(email)).Do()
	if err != nil {
		t.Fatal(err)
	}
	if byEmail.Email != email || byEmail.ProjectId != testProject || byEmail.DisplayName != "SA worker-sa" ||
		byEmail.Name != "projects/"+testProject+"/serviceAccounts/"+email || byEmail.Oauth2ClientId != byEmail.UniqueId {
		t.Errorf("got %+v", byEmail)
	}
	if !regexp.MustCompile(`^1[0-9]{20}$`).MatchString(byEmail.UniqueId) {
		t.Errorf("unique ID %q is not 21 digits", byEmail.UniqueId)
	}
	byUID, err := svc.Projects.ServiceAccounts.Get("projects/" + testProject + "/serviceAccounts/" + byEmail.UniqueId).Do()
	if err != nil {
		t.Fatal(err)
	}
	if byUID.Email != email {
		t.Errorf("by unique ID: %+v", byUID)
	}
	number, _ := s.ProjectNumber(testProject)
	if _, err := svc.Projects.ServiceAccounts.Get("projects/" + number + "/serviceAccounts/" + email).Do(); err != nil {
		t.Errorf("by project number: %v", err)
	}

	_, err = svc.Projects.ServiceAccounts.Get("projects/other-project/serviceAccounts/" + email).Do()
	wantAPIError(t, err, 404, "NOT_FOUND")
	_, err = svc.Projects.ServiceAccounts.Get(saName(saEmail("nobody-here"))).Do()
	wantAPIError(t, err, 404, "NOT_FOUND")
	_, err = svc.Projects.ServiceAccounts.Get(saName("worker-sa")).Do()
	wantAPIError(t, err, 400, "INVALID_ARGUMENT")

	// Someone with no role sees a 403 with IAM's ErrorInfo.
	_, err = iamClient(t, s, s.AccessTokenFor(alice)).Projects.ServiceAccounts.Get(saName(email)).Do()
	ge := wantAPIError(t, err, 403, "PERMISSION_DENIED")
	if !strings.Contains(ge.Body, "IAM_PERMISSION_DENIED") || !strings.Contains(ge.Body, "iam.serviceAccounts.get") {
		t.Errorf("403 body: %s", ge.Body)
	}
}

func TestListServiceAccountsPaging(t *testing.T) {
	s := newSeeded(t, nil)
	for i := range 105 {
		if _, err := s.CreateServiceAccount(testProject, fmt.Sprintf("account-%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreateServiceAccount("another-project", "elsewhere"); err != nil {
		t.Fatal(err)
	}
	svc := iamClient(t, s, s.AccessTokenFor(admin))
	list := svc.Projects.ServiceAccounts.List("projects/" + testProject)

	first, err := list.Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Accounts) != 20 || first.NextPageToken == "" {
		t.Fatalf("default page: %d accounts, token %q", len(first.Accounts), first.NextPageToken)
	}
	big, err := svc.Projects.ServiceAccounts.List("projects/" + testProject).PageSize(1000).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(big.Accounts) != 100 || big.NextPageToken == "" {
		t.Fatalf("page size is capped at 100: got %d", len(big.Accounts))
	}

	var emails []string
	pages := 0
	err = svc.Projects.ServiceAccounts.List("projects/"+testProject).PageSize(30).Pages(ctx, func(r *iam.ListServiceAccountsResponse) error {
		pages++
		for _, a := range r.Accounts {
			emails = append(emails, a.Email)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if pages != 4 || len(emails) != 105 || !slices.IsSorted(emails) || len(slices.Compact(slices.Clone(emails))) != 105 {
		t.Errorf("%d pages, %d emails", pages, len(emails))
	}
	for _, e := range emails {
		if strings.Contains(e, "another-project") {
			t.Errorf("listed %s from another project", e)
		}
	}

	_, err = svc.Projects.ServiceAccounts.List("projects/" + testProject).PageToken("not a token!").Do()
	wantAPIError(t, err, 400, "INVALID_ARGUMENT")
	_, err = svc.Projects.ServiceAccounts.List("projects/no-such-project").Do()
	wantAPIError(t, err, 404, "NOT_FOUND")
	_, err = iamClient(t, s, s.AccessTokenFor(alice)).Projects.ServiceAccounts.List("projects/" + testProject).Do()
	wantAPIError(t, err, 403, "PERMISSION_DENIED")
}

func TestCreateServiceAccount(t *testing.T) {
	s := newSeeded(t, nil)
	svc := iamClient(t, s, s.AccessTokenFor(admin))
	create := func(id string) (*iam.ServiceAccount, error) {
		return svc.Projects.ServiceAccounts.Create("projects/"+testProject, &iam.CreateServiceAccountRequest{
			AccountId:      id,
			ServiceAccount: &iam.ServiceAccount{DisplayName: "Created", Description: "made by a test"},
		}).Do()
	}
	sa, err := create("new-account")
	if err != nil {
		t.Fatal(err)
	}
	if sa.Email != saEmail("new-account") || sa.DisplayName != "Created" || sa.Description != "made by a test" || sa.UniqueId == "" {
		t.Errorf("created %+v", sa)
	}
	if got, ok := s.ServiceAccount(sa.UniqueId); !ok || got.Email != sa.Email {
		t.Errorf("ServiceAccount(%s) = %+v, %v", sa.UniqueId, got, ok)
	}
	_, err = create("new-account")
	wantAPIError(t, err, 409, "ALREADY_EXISTS")
	for _, bad := range []string{"short", "Upper-case-id", "ends-with-hyphen-", "1starts-with-digit", "has_underscore", strings.Repeat("a", 31)} {
		_, err = create(bad)
		wantAPIError(t, err, 400, "INVALID_ARGUMENT")
	}
	_, err = iamClient(t, s, s.AccessTokenFor(alice)).Projects.ServiceAccounts.Create("projects/"+testProject,
		&iam.CreateServiceAccountRequest{AccountId: "by-alice"}).Do()
	wantAPIError(t, err, 403, "PERMISSION_DENIED")
}

func TestPatchDisableEnable(t *testing.T) {
	s := newSeeded(t, []string{"patch-me"})
	svc := iamClient(t, s, s.AccessTokenFor(admin))
	name := saName(saEmail("patch-me"))
	sa, err := svc.Projects.ServiceAccounts.Patch(name, &iam.PatchServiceAccountRequest{
		ServiceAccount: &iam.ServiceAccount{DisplayName: "Renamed", Description: "ignored"},
		UpdateMask:     "displayName",
	}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if sa.DisplayName != "Renamed" || sa.Description != "" {
		t.Errorf("patched %+v", sa)
	}
	if _, err := svc.Projects.ServiceAccounts.Disable(name, &iam.DisableServiceAccountRequest{}).Do(); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ServiceAccount(saEmail("patch-me")); !got.Disabled {
		t.Error("not disabled")
	}
	if _, err := svc.Projects.ServiceAccounts.Enable(name, &iam.EnableServiceAccountRequest{}).Do(); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ServiceAccount(saEmail("patch-me")); got.Disabled {
		t.Error("still disabled")
	}
}

func TestDeleteRewritesMembers(t *testing.T) {
	s := newSeeded(t, []string{"doomed-sa", "other-sa"})
	doomed, other := saEmail("doomed-sa"), saEmail("other-sa")
	if err := s.AddMember(other, "roles/iam.serviceAccountTokenCreator", "serviceAccount:"+doomed); err != nil {
		t.Fatal(err)
	}
	if err := s.AddMember(other, "roles/iam.serviceAccountTokenCreator", alice); err != nil {
		t.Fatal(err)
	}
	if err := s.SetProjectBindings(testProject, []Binding{
		{Role: "roles/owner", Members: []string{admin}},
		{Role: "roles/viewer", Members: []string{"serviceAccount:" + doomed}},
	}); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Policy(other)
	sa, _ := s.ServiceAccount(doomed)
	doomedTok := s.AccessTokenFor("serviceAccount:" + doomed)

	svc := iamClient(t, s, s.AccessTokenFor(admin))
	resp, err := svc.Projects.ServiceAccounts.Delete(saName(doomed)).Do()
	if err != nil {
		t.Fatal(err)
	}
	if resp.HTTPStatusCode != http.StatusOK {
		t.Errorf("delete status %d", resp.HTTPStatusCode)
	}
	_, err = svc.Projects.ServiceAccounts.Get(saName(doomed)).Do()
	wantAPIError(t, err, 404, "NOT_FOUND")
	_, err = svc.Projects.ServiceAccounts.Delete(saName(doomed)).Do()
	wantAPIError(t, err, 404, "NOT_FOUND")

	deleted := "deleted:serviceAccount:" + doomed + "?uid=" + sa.UniqueID
	after, err := svc.Projects.ServiceAccounts.GetIamPolicy(saName(other)).Do()
	if err != nil {
		t.Fatal(err)
	}
	if after.Etag == before.Etag {
		t.Error("etag unchanged by the rewrite")
	}
	if len(after.Bindings) != 1 || !slices.Equal(after.Bindings[0].Members, []string{deleted, alice}) {
		t.Errorf("bindings after delete: %+v", after.Bindings)
	}
	project, _ := s.ProjectBindings(testProject)
	if !slices.ContainsFunc(project, func(b Binding) bool { return slices.Contains(b.Members, deleted) }) {
		t.Errorf("project bindings after delete: %+v", project)
	}
	// The deleted account's tokens stop working.
	_, err = iamClient(t, s, doomedTok).Projects.ServiceAccounts.Get(saName(other)).Do()
	wantAPIError(t, err, 401, "UNAUTHENTICATED")

	// A new account with the same email gets a new unique ID and none of
	// the old grants.
	again, err := s.CreateServiceAccount(testProject, "doomed-sa")
	if err != nil {
		t.Fatal(err)
	}
	if again.UniqueID == sa.UniqueID {
		t.Error("unique ID reused")
	}
	p, _ := s.Policy(other)
	if slices.Contains(p.Bindings[0].Members, "serviceAccount:"+doomed) {
		t.Error("the new account inherited the old one's binding")
	}
	// Writing the deleted member back is accepted.
	if _, err := svc.Projects.ServiceAccounts.SetIamPolicy(saName(other), &iam.SetIamPolicyRequest{Policy: after}).Do(); err != nil {
		t.Errorf("writing back a deleted: member: %v", err)
	}
}

func TestPolicyReadModifyWrite(t *testing.T) {
	s := newSeeded(t, []string{"target-sa"})
	svc := iamClient(t, s, s.AccessTokenFor(admin))
	name := saName(saEmail("target-sa"))

	empty, err := svc.Projects.ServiceAccounts.GetIamPolicy(name).Do()
	if err != nil {
		t.Fatal(err)
	}
	if empty.Etag != "ACAB" || len(empty.Bindings) != 0 || empty.Version != 0 {
		t.Errorf("empty policy %+v", empty)
	}

	empty.Bindings = []*iam.Binding{
		{Role: "roles/iam.serviceAccountUser", Members: []string{"user:Bob@Example.com", "user:bob@example.com", alice}},
		{Role: "roles/iam.serviceAccountTokenCreator", Members: []string{}},
	}
	set, err := svc.Projects.ServiceAccounts.SetIamPolicy(name, &iam.SetIamPolicyRequest{Policy: empty}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if set.Etag == "ACAB" || set.Etag == "" || set.Version != 1 {
		t.Errorf("set returned %+v", set)
	}
	if !regexp.MustCompile(`^Bw[A-Za-z0-9+/]{9}=$`).MatchString(set.Etag) {
		t.Errorf("etag %q does not look like Google's", set.Etag)
	}
	if len(set.Bindings) != 1 || !slices.Equal(set.Bindings[0].Members, []string{alice, "user:bob@example.com"}) {
		t.Errorf("normalised bindings %+v", set.Bindings)
	}
	got, err := svc.Projects.ServiceAccounts.GetIamPolicy(name).Do()
	if err != nil {
		t.Fatal(err)
	}
	if got.Etag != set.Etag || len(got.Bindings) != 1 {
		t.Errorf("read back %+v", got)
	}

	// The first writer's etag is now stale.
	_, err = svc.Projects.ServiceAccounts.SetIamPolicy(name, &iam.SetIamPolicyRequest{Policy: empty}).Do()
	ge := wantAPIError(t, err, 409, "ABORTED")
	if !strings.Contains(ge.Message, "concurrent policy changes") {
		t.Errorf("409 message %q", ge.Message)
	}
	// Without an etag the write is blind and wins.
	got.Etag = ""
	got.Bindings[0].Members = []string{alice}
	blind, err := svc.Projects.ServiceAccounts.SetIamPolicy(name, &iam.SetIamPolicyRequest{Policy: got}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if blind.Etag == set.Etag {
		t.Error("blind write kept the etag")
	}

	// Out-of-band writes change the etag too.
	if err := s.AddMember(saEmail("target-sa"), "roles/iam.serviceAccountUser", "user:carol@example.com"); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Projects.ServiceAccounts.SetIamPolicy(name, &iam.SetIamPolicyRequest{Policy: blind}).Do()
	wantAPIError(t, err, 409, "ABORTED")

	// The Policy helper returns a copy.
	p, _ := s.Policy(saEmail("target-sa"))
	p.Bindings[0].Members[0] = "user:mallory@example.com"
	p2, _ := s.Policy(saEmail("target-sa"))
	if slices.Contains(p2.Bindings[0].Members, "user:mallory@example.com") {
		t.Error("Policy is not a deep copy")
	}
	if err := s.RemoveMember(saEmail("target-sa"), "roles/iam.serviceAccountUser", alice); err != nil {
		t.Fatal(err)
	}
	p3, _ := s.Policy(saEmail("target-sa"))
	if !slices.Equal(p3.Bindings[0].Members, []string{"user:carol@example.com"}) || p3.Etag == p2.Etag {
		t.Errorf("after RemoveMember: %+v", p3)
	}
}

func TestInjectedEtagConflicts(t *testing.T) {
	s := newSeeded(t, []string{"target-sa"})
	svc := iamClient(t, s, s.AccessTokenFor(admin))
	name := saName(saEmail("target-sa"))
	s.InjectEtagConflicts(2)
	good := &iam.Policy{Bindings: []*iam.Binding{{Role: "roles/viewer", Members: []string{alice}}}}
	// An invalid request fails for its own reason and uses up no conflict.
	_, err := svc.Projects.ServiceAccounts.SetIamPolicy(name, &iam.SetIamPolicyRequest{
		Policy: &iam.Policy{Bindings: []*iam.Binding{{Role: "roles/made-up", Members: []string{alice}}}},
	}).Do()
	wantAPIError(t, err, 400, "INVALID_ARGUMENT")
	for range 2 {
		_, err := svc.Projects.ServiceAccounts.SetIamPolicy(name, &iam.SetIamPolicyRequest{Policy: good}).Do()
		wantAPIError(t, err, 409, "ABORTED")
	}
	if _, err := svc.Projects.ServiceAccounts.SetIamPolicy(name, &iam.SetIamPolicyRequest{Policy: good}).Do(); err != nil {
		t.Fatal(err)
	}
	if got := s.RequestCounts()["iam.projects.serviceAccounts.setIamPolicy"]; got != 4 {
		t.Errorf("setIamPolicy counted %d times, want 4", got)
	}
}

func TestConditionalBindings(t *testing.T) {
	s := newSeeded(t, []string{"target-sa"})
	svc := iamClient(t, s, s.AccessTokenFor(admin))
	name := saName(saEmail("target-sa"))
	cond := &iam.Expr{Expression: `request.time < timestamp("2100-01-01T00:00:00Z")`, Title: "expires", Description: "temporary"}
	policy := &iam.Policy{Version: 3, Bindings: []*iam.Binding{
		{Role: "roles/iam.serviceAccountUser", Members: []string{alice}, Condition: cond},
		{Role: "roles/iam.serviceAccountUser", Members: []string{admin}},
	}}

	// Conditions need version 3.
	_, err := svc.Projects.ServiceAccounts.SetIamPolicy(name, &iam.SetIamPolicyRequest{
		Policy: &iam.Policy{Version: 1, Bindings: policy.Bindings},
	}).Do()
	wantAPIError(t, err, 400, "INVALID_ARGUMENT")

	set, err := svc.Projects.ServiceAccounts.SetIamPolicy(name, &iam.SetIamPolicyRequest{Policy: policy}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if set.Version != 3 || len(set.Bindings) != 2 {
		t.Fatalf("set %+v", set)
	}

	v3, err := svc.Projects.ServiceAccounts.GetIamPolicy(name).OptionsRequestedPolicyVersion(3).Do()
	if err != nil {
		t.Fatal(err)
	}
	if v3.Version != 3 || len(v3.Bindings) != 2 {
		t.Fatalf("v3 %+v", v3)
	}
	var withCond *iam.Binding
	for _, b := range v3.Bindings {
		if b.Condition != nil {
			withCond = b
		}
	}
	if withCond == nil || withCond.Condition.Expression != cond.Expression || withCond.Condition.Title != "expires" || withCond.Role != "roles/iam.serviceAccountUser" {
		t.Errorf("conditional binding %+v", withCond)
	}

	// A legacy reader sees version 1 and a renamed role.
	v1, err := svc.Projects.ServiceAccounts.GetIamPolicy(name).Do()
	if err != nil {
		t.Fatal(err)
	}
	if v1.Version != 1 || len(v1.Bindings) != 2 {
		t.Fatalf("v1 %+v", v1)
	}
	renamed := ""
	for _, b := range v1.Bindings {
		if b.Condition != nil {
			t.Errorf("condition leaked at version 1: %+v", b)
		}
		if strings.HasPrefix(b.Role, "roles/iam.serviceAccountUser_withcond_") {
			renamed = b.Role
		}
	}
	if !regexp.MustCompile(`_withcond_[0-9a-f]{20}$`).MatchString(renamed) {
		t.Errorf("no _withcond_ role in %+v", v1.Bindings)
	}
	// Writing the downgraded policy back is refused.
	_, err = svc.Projects.ServiceAccounts.SetIamPolicy(name, &iam.SetIamPolicyRequest{Policy: v1}).Do()
	ge := wantAPIError(t, err, 400, "INVALID_ARGUMENT")
	if !strings.Contains(ge.Message, "_withcond_") {
		t.Errorf("message %q", ge.Message)
	}

	// A body with options works like the query parameter.
	code, body := rawCall(t, http.MethodPost, s.URL()+"/v1/"+name+":getIamPolicy", s.AccessTokenFor(admin), "application/json",
		`{"options":{"requestedPolicyVersion":3}}`)
	if code != 200 || body["version"] != float64(3) {
		t.Errorf("getIamPolicy with a body: %d %v", code, body)
	}
	code, body = rawCall(t, http.MethodPost, s.URL()+"/v1/"+name+":getIamPolicy?options.requestedPolicyVersion=2", s.AccessTokenFor(admin), "", "")
	if code != 400 {
		t.Errorf("version 2: %d %v", code, body)
	}

	// The condition is true now (the server runs on the real clock, before
	// 2100), so the conditional binding grants.
	code, body = rawCall(t, http.MethodPost, s.URL()+"/v1/"+name+":testIamPermissions", s.AccessTokenFor(alice), "application/json",
		`{"permissions":["iam.serviceAccounts.actAs"]}`)
	if code != 200 || fmt.Sprint(body["permissions"]) != "[iam.serviceAccounts.actAs]" {
		t.Errorf("true condition not counted: %d %v", code, body)
	}
}

func TestSetIamPolicyValidation(t *testing.T) {
	s := newSeeded(t, []string{"target-sa", "existing-sa"})
	svc := iamClient(t, s, s.AccessTokenFor(admin))
	name := saName(saEmail("target-sa"))
	set := func(role string, members ...string) (*iam.Policy, error) {
		return svc.Projects.ServiceAccounts.SetIamPolicy(name, &iam.SetIamPolicyRequest{
			Policy: &iam.Policy{Bindings: []*iam.Binding{{Role: role, Members: members}}},
		}).Do()
	}
	_, err := set("roles/iam.notARole", alice)
	ge := wantAPIError(t, err, 400, "INVALID_ARGUMENT")
	if !strings.Contains(ge.Message, "roles/iam.notARole") {
		t.Errorf("message does not name the role: %q", ge.Message)
	}
	_, err = set("projects/test-project/roles/custom", alice)
	wantAPIError(t, err, 400, "INVALID_ARGUMENT")

	_, err = set("roles/iam.serviceAccountUser", "serviceAccount:"+saEmail("ghost-sa"))
	ge = wantAPIError(t, err, 400, "INVALID_ARGUMENT")
	if ge.Message != "Service account "+saEmail("ghost-sa")+" does not exist." {
		t.Errorf("message %q", ge.Message)
	}
	for _, bad := range []string{"bob@example.com", "user:", "user:not-an-email", "robot:x@example.com", "deleted:user:bob@example.com", ""} {
		_, err = set("roles/iam.serviceAccountUser", bad)
		wantAPIError(t, err, 400, "INVALID_ARGUMENT")
	}
	good := []string{
		"allUsers", "allAuthenticatedUsers", "group:admins@example.com", "domain:example.com",
		"serviceAccount:" + testProject + ".svc.id.goog[airflow/worker]",
		"serviceAccount:" + saEmail("existing-sa"),
		"serviceAccount:service-123@gcp-sa-aiplatform.iam.gserviceaccount.com",
		"serviceAccount:123-compute@developer.gserviceaccount.com",
		"principal://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/subject/s",
		"principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/*",
		"deleted:user:bob@example.com?uid=123456789",
	}
	p, err := set("roles/iam.workloadIdentityUser", good...)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Bindings[0].Members) != len(good) {
		t.Errorf("members %v", p.Bindings[0].Members)
	}

	// Unknown JSON fields are rejected, as Google does.
	code, body := rawCall(t, http.MethodPost, s.URL()+"/v1/"+name+":setIamPolicy", s.AccessTokenFor(admin), "application/json",
		`{"policy":{"bindings":[]},"polcy":{}}`)
	if code != 400 || !strings.Contains(fmt.Sprint(body), "polcy") {
		t.Errorf("unknown field: %d %v", code, body)
	}
	// A stale etag that is not base64 is a bad request.
	code, _ = rawCall(t, http.MethodPost, s.URL()+"/v1/"+name+":setIamPolicy", s.AccessTokenFor(admin), "application/json",
		`{"policy":{"etag":"not base64!"}}`)
	if code != 400 {
		t.Errorf("bad etag: %d", code)
	}
	// Without setIamPolicy permission.
	_, err = iamClient(t, s, s.AccessTokenFor(alice)).Projects.ServiceAccounts.SetIamPolicy(name, &iam.SetIamPolicyRequest{Policy: &iam.Policy{}}).Do()
	wantAPIError(t, err, 403, "PERMISSION_DENIED")
}

func TestTestIamPermissions(t *testing.T) {
	s := newSeeded(t, []string{"target-sa"})
	if err := s.AddMember(saEmail("target-sa"), "roles/iam.serviceAccountTokenCreator", alice); err != nil {
		t.Fatal(err)
	}
	name := saName(saEmail("target-sa"))
	ask := []string{"iam.serviceAccounts.get", "iam.serviceAccounts.setIamPolicy", "iam.serviceAccounts.getAccessToken", "iam.serviceAccounts.actAs"}
	for _, tc := range []struct {
		who  string
		want []string
	}{
		{admin, []string{"iam.serviceAccounts.get", "iam.serviceAccounts.setIamPolicy", "iam.serviceAccounts.actAs"}},
		{alice, []string{"iam.serviceAccounts.get", "iam.serviceAccounts.getAccessToken"}},
		{"user:nobody@example.com", nil},
	} {
		resp, err := iamClient(t, s, s.AccessTokenFor(tc.who)).Projects.ServiceAccounts.TestIamPermissions(name,
			&iam.TestIamPermissionsRequest{Permissions: ask}).Do()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(resp.Permissions, tc.want) {
			t.Errorf("%s holds %v, want %v", tc.who, resp.Permissions, tc.want)
		}
	}
	_, err := iamClient(t, s, s.AccessTokenFor(alice)).Projects.ServiceAccounts.TestIamPermissions(name,
		&iam.TestIamPermissionsRequest{Permissions: []string{"iam.serviceAccounts.*"}}).Do()
	wantAPIError(t, err, 400, "INVALID_ARGUMENT")
	_, err = iamClient(t, s, s.AccessTokenFor(alice)).Projects.ServiceAccounts.TestIamPermissions(saName(saEmail("ghost-sa")),
		&iam.TestIamPermissionsRequest{Permissions: ask}).Do()
	wantAPIError(t, err, 404, "NOT_FOUND")
}

func TestUnauthenticated(t *testing.T) {
	clock := newFakeClock()
	s := newSeeded(t, []string{"target-sa"}, WithClock(clock.Now))
	u := s.URL() + "/v1/" + saName(saEmail("target-sa"))

	code, body := rawCall(t, http.MethodGet, u, "", "", "")
	if e, _ := body["error"].(map[string]any); code != 401 || e["status"] != "UNAUTHENTICATED" {
		t.Errorf("no token: %d %v", code, body)
	}
	_, err := iamClient(t, s, "ya29.made-up").Projects.ServiceAccounts.Get(saName(saEmail("target-sa"))).Do()
	ge := wantAPIError(t, err, 401, "UNAUTHENTICATED")
	if !strings.HasPrefix(ge.Message, "Request had invalid authentication credentials.") {
		t.Errorf("message %q", ge.Message)
	}
	if ge.Header.Get("WWW-Authenticate") == "" {
		t.Error("no WWW-Authenticate header")
	}

	tok := s.AccessTokenFor(admin)
	if _, err := iamClient(t, s, tok).Projects.ServiceAccounts.Get(saName(saEmail("target-sa"))).Do(); err != nil {
		t.Fatal(err)
	}
	clock.Advance(tokenLifetime)
	_, err = iamClient(t, s, tok).Projects.ServiceAccounts.Get(saName(saEmail("target-sa"))).Do()
	wantAPIError(t, err, 401, "UNAUTHENTICATED")
}

func TestUnknownRoute(t *testing.T) {
	s := NewTestServer(t)
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/v2/projects/p/serviceAccounts"},
		{http.MethodGet, "/v1/projects/p/serviceAccounts/x@p.iam.gserviceaccount.com:getIamPolicy"},
		{http.MethodPut, "/v1/projects/p/serviceAccounts/x@p.iam.gserviceaccount.com"},
		{http.MethodGet, "/nothing"},
	} {
		code, body := rawCall(t, tc.method, s.URL()+tc.path, "", "", "")
		e, _ := body["error"].(map[string]any)
		if code != 404 || e["status"] != "NOT_FOUND" || e["code"] != float64(404) {
			t.Errorf("%s %s: %d %v", tc.method, tc.path, code, body)
		}
	}
	if n := len(s.RequestCounts()); n != 0 {
		t.Errorf("unknown routes were counted: %v", s.RequestCounts())
	}
}

func TestRequestCounts(t *testing.T) {
	s := newSeeded(t, []string{"target-sa"})
	svc := iamClient(t, s, s.AccessTokenFor(admin))
	name := saName(saEmail("target-sa"))
	for range 3 {
		if _, err := svc.Projects.ServiceAccounts.GetIamPolicy(name).Do(); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = credClient(t, s, s.AccessTokenFor(admin)).Projects.ServiceAccounts.GenerateIdToken(name,
		&iamcredentialsGenerateIDToken{Audience: "x"}).Do()
	getJSON(t, s.URL()+"/.well-known/openid-configuration", &map[string]any{})
	getJSON(t, s.URL()+"/oauth2/v3/certs", &map[string]any{})
	got := s.RequestCounts()
	want := map[string]int{
		"iam.projects.serviceAccounts.getIamPolicy":               3,
		"iamcredentials.projects.serviceAccounts.generateIdToken": 1,
		"oidc.discovery": 1,
		"oidc.jwks":      1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
	got["oidc.jwks"] = 99 // a copy
	s.ResetCounts()
	if n := len(s.RequestCounts()); n != 0 {
		t.Errorf("after reset: %v", s.RequestCounts())
	}
}
