# One Token Creator grant per hop, each a single member on one account's
# policy: nothing owned by others is touched.
resource "airflowiam_impersonation_chain" "this" {
  source = var.source_member
  chain  = var.chain
}

# A Google connection that applies the chain, with no key fields.
resource "airflowiam_connection" "this" {
  connection_id = var.connection_id
  conn_type     = "google_cloud_platform"
  description   = "Acts as ${airflowiam_impersonation_chain.this.target_service_account} (managed by Terraform)"
  extra = jsonencode(merge(
    jsondecode(airflowiam_impersonation_chain.this.airflow_connection_extra),
    { project = var.project },
  ))
}

# Every plan mints an access token along the chain, as Airflow's operators
# will; a break is a warning naming the missing grant.
check "gcp_impersonation" {
  data "airflowiam_token_exchange" "this" {
    service_account         = var.check_service_account
    gcp_impersonation_chain = airflowiam_impersonation_chain.this.airflow_impersonation_chain
    propagation_timeout     = var.check_propagation_timeout
  }

  assert {
    condition     = alltrue([for s in data.airflowiam_token_exchange.this.steps : s.status != "failed"])
    error_message = "Airflow cannot impersonate ${airflowiam_impersonation_chain.this.target_service_account}."
  }
}
