from django.urls import path

from personalize.demo import views

app_name = "demo"

urlpatterns = [
    path("", views.home, name="home"),
    path("category/<path:slug>/", views.category, name="category"),
    path("product/<str:product_id>/", views.product, name="product"),
    path("cart/", views.cart, name="cart"),
    path("checkout/", views.checkout, name="checkout"),
    path("checkout/thank-you/", views.thank_you, name="thank_you"),
    path("img/<str:product_id>.svg", views.product_image, name="image"),
]
