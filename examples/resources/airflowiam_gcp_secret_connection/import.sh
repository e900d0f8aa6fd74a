# By the secret's name, for the default prefix and separator...
terraform import airflowiam_gcp_secret_connection.warehouse projects/data-platform-prod/secrets/airflow-connections-warehouse
# ...or as PROJECT/PREFIX,SEPARATOR,CONNECTION_ID for any other.
terraform import airflowiam_gcp_secret_connection.warehouse 'data-platform-prod/team_conns,__,warehouse'
