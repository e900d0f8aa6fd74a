# Read a connection someone else manages, for example to check its role.
data "airflowiam_connection" "aws_default" {
  connection_id = "aws_default"
}

output "aws_default_role" {
  value = jsondecode(data.airflowiam_connection.aws_default.extra).role_arn
}
