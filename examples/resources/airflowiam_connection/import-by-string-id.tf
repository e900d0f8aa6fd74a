import {
  to = airflowiam_connection.warehouse
  id = "warehouse"
}
