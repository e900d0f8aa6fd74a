# A role is imported by its name; the trusted account is read from its trust policy.
terraform import airflowiam_account_role.reader airflow-reader
