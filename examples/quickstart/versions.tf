terraform {
  required_version = ">= 1.11"
  required_providers {
    airflowiam = {
      source = "airflowiam/airflowiam"
    }
  }
}
