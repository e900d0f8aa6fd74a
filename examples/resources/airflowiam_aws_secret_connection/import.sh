# By the secret's name or ARN (the last "/" separates the prefix from the
# connection ID)...
terraform import airflowiam_aws_secret_connection.warehouse airflow/connections/warehouse
# ...or, for another separator, as PREFIX,SEPARATOR,CONNECTION_ID.
terraform import airflowiam_aws_secret_connection.warehouse 'airflow-connections,-,warehouse'
