//! azureml (work in progress)
