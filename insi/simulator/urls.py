"""URLs of the INSi simulator, mounted under /insi-simulator/ when INSI_SIMULATOR_ENABLED is true."""
from django.urls import path

from insi.simulator import views

app_name = "insi_simulator"
urlpatterns = [
    path("lps", views.lps, name="lps"),
]
