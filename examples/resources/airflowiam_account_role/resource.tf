# A role that principals of another AWS account assume with sts:AssumeRole.
resource "airflowiam_account_role" "reader" {
  name                = "airflow-reader"
  trusted_account_id  = "210987654321"
  managed_policy_arns = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
}
