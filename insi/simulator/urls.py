"""URLs of the INSi simulator, mounted under /insi-simulator/ when INSI_SIMULATOR_ENABLED is true."""
from django.urls import path

from insi.simulator import apcv, views

app_name = "insi_simulator"
urlpatterns = [
    path("lps", views.lps, name="lps"),
    path("apcv", apcv.apcv, name="apcv"),  # the Appli carte Vitale side (insi/simulator/apcv.py)
]
