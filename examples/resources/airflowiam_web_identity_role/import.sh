# A role is imported by its name. The Google service account, its unique ID
# and the audience are read back from the role's trust policy.
terraform import airflowiam_web_identity_role.analytics airflow-analytics
