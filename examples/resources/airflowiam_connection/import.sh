# A connection is imported by its connection_id.
terraform import airflowiam_connection.warehouse warehouse
