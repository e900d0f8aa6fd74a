import {
  to = airflowiam_web_identity_role.analytics
  id = "airflow-analytics"
}
