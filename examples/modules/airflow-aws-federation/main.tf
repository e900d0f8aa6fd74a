locals {
  audience      = coalesce(var.audience, var.role_name)
  connection_id = coalesce(var.connection_id, "aws_${replace(var.role_name, "-", "_")}")
}

# The role trusts the workers' Google identity: its unique ID (looked up
# through the provider's google block) and email in accounts.google.com:aud,
# the audience in accounts.google.com:oaud.
resource "airflowiam_web_identity_role" "this" {
  name                   = var.role_name
  google_service_account = var.google_service_account
  audience               = local.audience
  managed_policy_arns    = var.managed_policy_arns
  inline_policies        = var.inline_policies
}

# The connection Airflow's AWS hooks and operators use: web identity with
# Google federation, no keys.
resource "airflowiam_connection" "this" {
  connection_id = local.connection_id
  conn_type     = "aws"
  description   = "Assumes ${var.role_name} with the workers' Google identity (managed by Terraform)"
  extra         = airflowiam_web_identity_role.this.airflow_connection_extra
}

# Every plan proves the path still works; a break is a warning naming the
# broken hop. The provider's Google identity needs Token Creator (or OpenID
# Token Creator) on the workers' service account.
check "aws_federation" {
  data "airflowiam_token_exchange" "this" {
    service_account       = var.google_service_account
    airflow_connection_id = airflowiam_connection.this.connection_id
    propagation_timeout   = var.check_propagation_timeout
  }

  assert {
    condition     = data.airflowiam_token_exchange.this.assumed_role_arn != null
    error_message = "The Airflow workers cannot assume ${var.role_name}."
  }
}
